//! Gmail `Message` resources -> decoded, LLM-ready records.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_core::{CallContext, ProviderRequest};
use serde_json::{json, Map, Value};

use crate::mime::view::{MessageView, PartView, WireMessage, WirePart};
use crate::mime::{
    decode_base64url, decode_mime, decode_payload, decode_payload_metadata, EmailAddress,
    HeaderField, MimeDecoded,
};

/// The `format` a message was fetched in (the `format` param; `full` unless given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Full,
    Metadata,
    Minimal,
    Raw,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Full => "full",
            Format::Metadata => "metadata",
            Format::Minimal => "minimal",
            Format::Raw => "raw",
        }
    }
}

/// Headers asked for when listing summaries with `format=metadata`.
pub const SUMMARY_HEADERS: &[&str] = &["Subject", "From", "Date", "Content-Type"];

/// Decodes one Gmail message resource fetched with `format`.
pub fn decode_message<M: MessageView>(msg: &M, format: Format) -> Value {
    let mut out = base_fields(msg);
    let mut warnings: Vec<String> = Vec::new();
    let decoded: Option<MimeDecoded> = match format {
        Format::Minimal => None,
        Format::Raw => match msg.raw() {
            Some(raw) => match decode_base64url(raw) {
                Some(bytes) => {
                    out.insert("raw".into(), json!(STANDARD.encode(&bytes)));
                    Some(decode_mime(&bytes))
                }
                None => {
                    warnings.push("the raw message is not valid base64url".into());
                    None
                }
            },
            None => None,
        },
        Format::Full => msg.payload().map(|p| decode_payload(p, &mut warnings)),
        Format::Metadata => msg
            .payload()
            .map(|p| decode_payload_metadata(p, &mut warnings)),
    };
    let mut text_from_html = false;
    if let Some(d) = decoded {
        // The decoded strings move into the record (bodies can be large): no copies.
        text_from_html = d.text_from_html && format != Format::Metadata;
        warnings.extend(d.warnings);
        out.insert("subject".into(), Value::from(d.subject));
        out.insert(
            "from".into(),
            d.from.map_or(Value::Null, EmailAddress::into_value),
        );
        out.insert("to".into(), EmailAddress::list_value(d.to));
        out.insert("cc".into(), EmailAddress::list_value(d.cc));
        out.insert("bcc".into(), EmailAddress::list_value(d.bcc));
        out.insert("reply_to".into(), EmailAddress::list_value(d.reply_to));
        out.insert("date".into(), Value::from(d.date));
        out.insert("message_id".into(), Value::from(d.message_id));
        out.insert("in_reply_to".into(), Value::from(d.in_reply_to));
        out.insert("references".into(), Value::from(d.references));
        out.insert("headers".into(), headers_value(d.headers));
        if format != Format::Metadata {
            out.insert("text".into(), Value::from(d.text));
            out.insert("html".into(), Value::from(d.html));
            out.insert("attachments".into(), json!(d.attachments));
        }
    }
    if let Some(raw) = out.remove("raw") {
        out.insert("raw".into(), raw);
    }
    connector_core::mail::trust::annotate(&mut out, text_from_html);
    out.insert(
        "decode_warnings".into(),
        Value::Array(warnings.into_iter().map(Value::String).collect()),
    );
    Value::Object(out)
}

/// When a `format=full` message's text body is a part Gmail holds behind an attachment id (a
/// text part with a file name), that attachment id: fetch its bytes and put them back with
/// [`fill_held_body`] so the text is not lost.
pub fn held_body_attachment<M: MessageView>(msg: &M) -> Option<String> {
    let payload = msg.payload()?;
    // Cheap look first: only a payload with a held text leaf needs the decoder's answer.
    fn has_held_text<P: PartView>(part: &P, depth: usize) -> bool {
        let text = part
            .mime_type()
            .is_some_and(|t| t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("text/")));
        (text && part.attachment_id().is_some())
            || (depth < 40 && part.parts().iter().any(|p| has_held_text(p, depth + 1)))
    }
    if !has_held_text(payload, 0) {
        return None;
    }
    let mut warnings = Vec::new();
    decode_payload(payload, &mut warnings).held_body
}

/// Puts the base64url `data` of attachment `attachment_id` into its part of `msg`'s payload, as
/// if Gmail had sent it inline. Returns whether the part was found.
pub fn fill_held_body(msg: &mut Value, attachment_id: &str, data: &str) -> bool {
    fn fill(part: &mut Value, id: &str, data: &str, depth: usize) -> bool {
        if part["body"]["attachmentId"].as_str() == Some(id) {
            let size = part["body"]["size"].clone();
            part["body"] = json!({"size": size, "data": data});
            return true;
        }
        depth < 40
            && part
                .get_mut("parts")
                .and_then(Value::as_array_mut)
                .is_some_and(|ps| ps.iter_mut().any(|p| fill(p, id, data, depth + 1)))
    }
    msg.get_mut("payload")
        .is_some_and(|p| fill(p, attachment_id, data, 0))
}

/// [`fill_held_body`] for a message parsed from its bytes ([`WireMessage`]).
pub fn fill_held_body_wire(msg: &mut WireMessage<'_>, attachment_id: &str, data: &str) -> bool {
    fn fill(part: &mut WirePart<'_>, id: &str, data: &str, depth: usize) -> bool {
        if let Some(body) = part.body.as_mut() {
            if body.attachment_id.as_deref() == Some(id) {
                body.attachment_id = None;
                body.data = Some(data.to_string().into());
                return true;
            }
        }
        depth < 40
            && part
                .parts
                .as_mut()
                .is_some_and(|ps| ps.iter_mut().any(|p| fill(p, id, data, depth + 1)))
    }
    msg.payload
        .as_mut()
        .is_some_and(|p| fill(p, attachment_id, data, 0))
}

/// A message whose held text body [`fetch_held_body`] can put back.
pub(crate) trait HoldsBody: MessageView {
    fn fill(&mut self, attachment_id: &str, data: &str) -> bool;
}

impl HoldsBody for Value {
    fn fill(&mut self, attachment_id: &str, data: &str) -> bool {
        fill_held_body(self, attachment_id, data)
    }
}

impl HoldsBody for WireMessage<'_> {
    fn fill(&mut self, attachment_id: &str, data: &str) -> bool {
        fill_held_body_wire(self, attachment_id, data)
    }
}

/// Gmail holds a text part with a file name behind an attachment id even when it is the body
/// (issue 26): fetch it so the text is not lost. On failure the decoder's warning says so.
pub(crate) async fn fetch_held_body<M: HoldsBody>(cx: &CallContext<'_>, id: &str, msg: &mut M) {
    let Some(attachment_id) = held_body_attachment(msg) else {
        return;
    };
    let req = ProviderRequest::get(format!(
        "{}/messages/{}/attachments/{}",
        crate::handlers::USER,
        connector_core::wire::path_segment(id),
        connector_core::wire::path_segment(&attachment_id)
    ));
    let Ok(resp) = cx.send(req).await else { return };
    if let Ok(body) = resp.json::<Value>() {
        if let Some(data) = body["data"].as_str() {
            msg.fill(&attachment_id, data);
        }
    }
}

/// A list summary from a `format=metadata` message.
pub fn summary(msg: &Value) -> Value {
    let base = base_fields(msg);
    let mut warnings = Vec::new();
    let d = msg
        .get("payload")
        .filter(|p| p.is_object())
        .map(|p| decode_payload_metadata(p, &mut warnings))
        .unwrap_or_default();
    let content_type = msg["payload"]["mimeType"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .or_else(|| {
            d.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-type"))
                .map(|h| h.value.to_ascii_lowercase())
        })
        .unwrap_or_default();
    json!({
        "id": base["id"],
        "thread_id": base["thread_id"],
        "subject": d.subject,
        "from": d.from,
        "date": d.date,
        "snippet": base["snippet"],
        "label_ids": base["label_ids"],
        "has_attachments": content_type.starts_with("multipart/mixed"),
    })
}

/// `[{name, value}, ...]` as `json!(headers)` gives it, built from the owned strings.
fn headers_value(headers: Vec<HeaderField>) -> Value {
    Value::Array(
        headers
            .into_iter()
            .map(|h| {
                let mut m = Map::with_capacity(2);
                m.insert("name".into(), Value::String(h.name));
                m.insert("value".into(), Value::String(h.value));
                Value::Object(m)
            })
            .collect(),
    )
}

fn base_fields<M: MessageView>(msg: &M) -> Map<String, Value> {
    // Room for every field a full record gets: the map is not grown (and rehashed) on the way.
    let mut out = Map::with_capacity(32);
    out.insert("id".into(), json!(msg.id().unwrap_or_default()));
    out.insert(
        "thread_id".into(),
        json!(msg.thread_id().unwrap_or_default()),
    );
    out.insert(
        "label_ids".into(),
        msg.label_ids().unwrap_or_else(|| json!([])),
    );
    out.insert("snippet".into(), json!(msg.snippet().map(unescape_html)));
    out.insert("history_id".into(), json!(msg.history_id()));
    out.insert(
        "internal_date".into(),
        json!(msg.internal_date_ms().and_then(internal_date)),
    );
    out.insert("size_estimate".into(), json!(msg.size_estimate()));
    out
}

/// Gmail's `internalDate` (epoch milliseconds) as RFC 3339.
fn internal_date(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Gmail snippets are HTML-escaped; agents want plain text.
fn unescape_html(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn raw_format_is_decoded_and_kept_as_standard_base64() {
        let raw = b"From: Ada <ada@example.com>\r\nSubject: hi\r\n\r\nbody?>\r\n";
        let msg = json!({"id": "m1", "threadId": "t1", "labelIds": ["INBOX"], "snippet": "it&#39;s",
                         "historyId": "7", "internalDate": "1700000000000", "sizeEstimate": 40,
                         "raw": URL_SAFE_NO_PAD.encode(raw)});
        let d = decode_message(&msg, Format::Raw);
        assert_eq!(d["subject"], "hi");
        assert_eq!(
            d["from"],
            json!({"name": "Ada", "email": "ada@example.com"})
        );
        assert_eq!(d["snippet"], "it's");
        assert_eq!(d["internal_date"], "2023-11-14T22:13:20Z");
        assert_eq!(STANDARD.decode(d["raw"].as_str().unwrap()).unwrap(), raw);
        assert_eq!(d["text"], "body?>\r\n");
    }

    #[test]
    fn minimal_has_no_headers_and_metadata_no_bodies() {
        let msg = json!({"id": "m1", "threadId": "t1", "payload": {"mimeType": "multipart/mixed",
            "headers": [{"name": "Subject", "value": "S"}]}});
        let d = decode_message(&msg, Format::Minimal);
        assert!(d.get("subject").is_none());
        let d = decode_message(&msg, Format::Metadata);
        assert_eq!(d["subject"], "S");
        assert!(d.get("text").is_none());
        let s = summary(&msg);
        assert_eq!(s["has_attachments"], true);
        assert_eq!(s["subject"], "S");
    }
}
