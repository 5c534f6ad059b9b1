//! What the emulator derives from a stored RFC 822 message: the Gmail `payload` tree, the snippet,
//! attachments and the fields search looks at. Parsed once per message, lazily.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use mail_parser::{Encoding, HeaderValue, MessageParser, MimeHeaders, PartType};
use serde_json::{json, Value};

/// Header facts needed when a message is stored (threading), without a full parse.
#[derive(Debug, Default, Clone)]
pub(crate) struct Envelope {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub date_ms: Option<i64>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
}

fn text_list(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.trim_matches(|c| c == '<' || c == '>').to_string()],
        HeaderValue::TextList(l) => l
            .iter()
            .map(|t| t.trim_matches(|c| c == '<' || c == '>').to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn addresses(v: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    v.map(|a| {
        a.iter()
            .filter_map(|a| a.address().map(|s| s.to_ascii_lowercase()))
            .collect()
    })
    .unwrap_or_default()
}

/// Reads the header block only.
fn envelope_unguarded(raw: &[u8]) -> Envelope {
    let Some(m) = MessageParser::new().parse_headers(raw) else {
        return Envelope::default();
    };
    Envelope {
        message_id: m.message_id().map(str::to_string),
        in_reply_to: text_list(m.in_reply_to()),
        references: text_list(m.references()),
        date_ms: m.date().map(|d| d.to_timestamp() * 1000),
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        bcc: addresses(m.bcc()),
        from: addresses(m.from()).into_iter().next(),
        subject: m.subject().map(str::to_string),
    }
}

/// A subject as threading compares it: reply and forward prefixes (`Re:`, `Fwd:`, `Fw:`,
/// `AW:`, `WG:`, `[...]`-free) removed, whitespace collapsed, case folded.
pub(crate) fn thread_subject(s: &str) -> String {
    let mut s = s.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "fwd:", "fw:", "aw:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => break,
        }
    }
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// What the payload renderers need, parsed once per message on first get.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Top-level headers, in order, as Gmail shows them.
    pub headers: Vec<(String, String)>,
    pub mime_type: String,
    /// The `full` payload tree.
    pub payload: Value,
    /// part id -> decoded attachment bytes.
    pub attachments: HashMap<String, Vec<u8>>,
}

/// What lists and search need (lower-cased fields), cheaper than [`Parsed`]; seeds can
/// provide it up front.
#[derive(Debug, Default, Clone)]
pub(crate) struct Index {
    pub snippet: String,
    pub from: String,
    /// To, Cc and Bcc.
    pub to: String,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub filenames: Vec<String>,
    pub has_attachment: bool,
    pub list_id: String,
}

/// Attachment ids are opaque to clients; ours name the message and part.
pub(crate) fn attachment_id(msg_id: &str, part_id: &str) -> String {
    format!(
        "ANGjdJ{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{msg_id}/{part_id}"))
    )
}

/// Inverse of [`attachment_id`]: (message id, part id).
pub(crate) fn parse_attachment_id(id: &str) -> Option<(String, String)> {
    let rest = id.strip_prefix("ANGjdJ")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(rest)
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    let (m, p) = s.split_once('/')?;
    Some((m.to_string(), p.to_string()))
}

fn unfold(v: &str) -> String {
    v.replace("\r\n", "").replace('\n', "").trim().to_string()
}

fn header_list(raw: &[u8], headers: &[mail_parser::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            let decoded = match &h.value {
                HeaderValue::Text(t)
                    if !matches!(
                        h.name.as_str().to_ascii_lowercase().as_str(),
                        "message-id" | "in-reply-to" | "references"
                    ) =>
                {
                    Some(t.to_string())
                }
                HeaderValue::Address(a) => {
                    let raw_value = String::from_utf8_lossy(
                        raw.get(h.offset_start as usize..h.offset_end as usize)
                            .unwrap_or_default(),
                    )
                    .into_owned();
                    raw_value.contains("=?").then(|| render_addresses(a))
                }
                _ => None,
            };
            let value = decoded.unwrap_or_else(|| {
                let s = h.offset_start as usize;
                let e = (h.offset_end as usize).min(raw.len());
                unfold(&String::from_utf8_lossy(raw.get(s..e).unwrap_or_default()))
            });
            (h.name.as_str().to_string(), value)
        })
        .collect()
}

/// `Name <addr>, ...` with names quoted when they need it (used when encoded words were decoded).
fn render_addresses(a: &mail_parser::Address<'_>) -> String {
    a.iter()
        .map(|x| {
            let addr = x.address().unwrap_or("");
            match x.name().filter(|n| !n.is_empty()) {
                Some(n) if n.contains([',', ';', ':', '<', '>', '@', '"', '(', ')']) => {
                    format!("\"{}\" <{addr}>", n.replace('"', "\\\""))
                }
                Some(n) => format!("{n} <{addr}>"),
                None => addr.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn transfer_decode(encoding: Encoding, body: &[u8]) -> Vec<u8> {
    match encoding {
        Encoding::Base64 => {
            mail_parser::decoders::base64::base64_decode(body).unwrap_or_else(|| body.to_vec())
        }
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
                .unwrap_or_else(|| body.to_vec())
        }
        Encoding::None => body.to_vec(),
    }
}

fn collapse_ws(s: &str, max: usize) -> String {
    let mut out = String::new();
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if out.chars().count() >= max {
            break;
        }
    }
    out.chars().take(max).collect()
}

fn parse_unguarded(msg_id: &str, raw: &[u8]) -> Parsed {
    let Some(m) = MessageParser::new().parse(raw) else {
        return Parsed {
            mime_type: "text/plain".into(),
            payload: json!({"partId": "", "mimeType": "text/plain", "filename": "", "headers": [], "body": {"size": raw.len(), "data": URL_SAFE.encode(raw)}}),
            ..Default::default()
        };
    };
    let mut ctx = Ctx {
        msg_id,
        raw,
        parts: &m.parts,
        attachments: HashMap::new(),
    };
    let payload = ctx.part(0, String::new());
    Parsed {
        headers: header_list(raw, m.headers()),
        mime_type: payload["mimeType"]
            .as_str()
            .unwrap_or("text/plain")
            .to_string(),
        attachments: ctx.attachments,
        payload,
    }
}

/// Whether a leaf part is shown as an attachment (Gmail: has a filename, or is not text).
fn is_attachment(part: &mail_parser::MessagePart<'_>) -> bool {
    if matches!(part.body, PartType::Multipart(_)) {
        return false;
    }
    let text = part
        .content_type()
        .is_none_or(|ct| ct.ctype().eq_ignore_ascii_case("text"));
    part.attachment_name().is_some_and(|n| !n.is_empty()) || !text
}

fn index_unguarded(raw: &[u8]) -> Index {
    let Some(m) = MessageParser::new().parse(raw) else {
        let body = String::from_utf8_lossy(raw).into_owned();
        return Index {
            snippet: collapse_ws(&body, 200),
            body: body.to_lowercase(),
            ..Default::default()
        };
    };
    let text = m
        .body_text(0)
        .map(|t| t.to_string())
        .or_else(|| m.body_html(0).map(|h| h.to_string()))
        .unwrap_or_default();
    let addr_field = |a: Option<&mail_parser::Address<'_>>| -> String {
        a.map(|a| {
            a.iter()
                .map(|x| format!("{} <{}>", x.name().unwrap_or(""), x.address().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
        .to_lowercase()
    };
    Index {
        snippet: collapse_ws(&text, 200),
        body: text.to_lowercase(),
        from: addr_field(m.from()),
        to: [addr_field(m.to()), addr_field(m.cc()), addr_field(m.bcc())].join(", "),
        subject: m.subject().unwrap_or("").to_lowercase(),
        message_id: m.message_id().unwrap_or("").to_lowercase(),
        filenames: m
            .parts
            .iter()
            .filter_map(|p| p.attachment_name())
            .filter(|n| !n.is_empty())
            .map(str::to_lowercase)
            .collect(),
        has_attachment: m.parts.iter().any(is_attachment),
        list_id: m.header_raw("List-Id").unwrap_or("").trim().to_lowercase(),
    }
}

struct Ctx<'a, 'x> {
    msg_id: &'a str,
    raw: &'a [u8],
    parts: &'a [mail_parser::MessagePart<'x>],
    attachments: HashMap<String, Vec<u8>>,
}

impl Ctx<'_, '_> {
    fn part(&mut self, idx: usize, part_id: String) -> Value {
        let part = &self.parts[idx];
        let headers: Vec<Value> = header_list(self.raw, &part.headers)
            .into_iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        let mime_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(st) => format!("{}/{}", ct.ctype(), st).to_ascii_lowercase(),
                None => ct.ctype().to_ascii_lowercase(),
            })
            .unwrap_or_else(|| "text/plain".to_string());
        let filename = part.attachment_name().unwrap_or("").to_string();
        let mut v = json!({"partId": part_id, "mimeType": mime_type, "filename": filename, "headers": headers});
        match &part.body {
            PartType::Multipart(children) => {
                v["body"] = json!({"size": 0});
                let kids: Vec<Value> = children
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let id = if part_id.is_empty() {
                            i.to_string()
                        } else {
                            format!("{part_id}.{i}")
                        };
                        self.part(*c as usize, id)
                    })
                    .collect();
                v["parts"] = Value::Array(kids);
            }
            body => {
                let bytes: Vec<u8> = match body {
                    PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
                    _ => {
                        let s = (part.offset_body as usize).min(self.raw.len());
                        let e = (part.offset_end as usize).min(self.raw.len()).max(s);
                        transfer_decode(part.encoding, &self.raw[s..e])
                    }
                };
                if is_attachment(part) {
                    v["body"] = json!({"attachmentId": attachment_id(self.msg_id, &part_id), "size": bytes.len()});
                    self.attachments.insert(part_id, bytes);
                } else {
                    v["body"] = json!({"size": bytes.len(), "data": URL_SAFE.encode(&bytes)});
                }
            }
        }
        v
    }
}

/// Runs a mail-parser call, turning a panic (mail-parser 0.11 has debug assertions that fire on
/// some malformed MIME) into `fallback`: a stored message must never break the emulator.
fn guarded<T>(f: impl FnOnce() -> T, fallback: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| fallback())
}

/// Header facts needed when a message is stored (threading), without a full parse.
pub(crate) fn envelope(raw: &[u8]) -> Envelope {
    guarded(|| envelope_unguarded(raw), Envelope::default)
}

/// Parses raw bytes for rendering; malformed MIME that the parser cannot take becomes a
/// single `text/plain` part holding the bytes.
pub(crate) fn parse(msg_id: &str, raw: &[u8]) -> Parsed {
    guarded(|| parse_unguarded(msg_id, raw), || plain_fallback(raw))
}

/// Lower-cased search fields and the snippet.
pub(crate) fn index(raw: &[u8]) -> Index {
    guarded(
        || index_unguarded(raw),
        || {
            let body = String::from_utf8_lossy(raw).into_owned();
            Index {
                snippet: collapse_ws(&body, 200),
                body: body.to_lowercase(),
                ..Default::default()
            }
        },
    )
}

fn plain_fallback(raw: &[u8]) -> Parsed {
    Parsed {
        mime_type: "text/plain".into(),
        payload: json!({"partId": "", "mimeType": "text/plain", "filename": "", "headers": [], "body": {"size": raw.len(), "data": URL_SAFE.encode(raw)}}),
        ..Default::default()
    }
}

/// The first value of a header field in the header block (unfolded, encoded words decoded).
pub(crate) fn header_value(raw: &[u8], name: &str) -> Option<String> {
    guarded(
        || {
            let m = MessageParser::new().parse_headers(raw)?;
            let h = m
                .headers()
                .iter()
                .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
            Some(match &h.value {
                HeaderValue::Text(t) => t.to_string(),
                _ => m.header_raw(name).map(unfold)?,
            })
        },
        || None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parser_panic_becomes_the_fallback() {
        let v: u32 = guarded(|| panic!("mail-parser debug assertion"), || 7);
        assert_eq!(v, 7);
        let p = plain_fallback(b"not mime");
        assert_eq!(p.payload["body"]["size"], 8);
    }

    #[test]
    fn truncated_and_odd_mime_never_panics() {
        let samples: [&[u8]; 5] = [
            b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n",
            b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a--\r\n--a\r\n",
            b"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x",
            b"\r\n\r\n",
            b"",
        ];
        for raw in samples {
            let _ = envelope(raw);
            let _ = index(raw);
            let p = parse("0000000000000001", raw);
            assert!(p.payload.get("mimeType").is_some());
        }
    }
}
