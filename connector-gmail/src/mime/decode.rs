//! RFC 5322 / MIME decoding with mail-parser: the one decoder every message goes through
//! (Gmail `format=raw` bytes, `format=full` payload trees -- parsed part by part in
//! `super::direct`, or rebuilt as MIME where that path declines -- and the test corpus).
//!
//! Decoding never fails: whatever cannot be decoded is reported in `warnings`.

use connector_core::mail::header_mailboxes;
use mail_parser::{
    decoders::charsets::map::charset_decoder, Header, HeaderName, HeaderValue, Message,
    MessageParser, MessagePart, MimeHeaders, PartType,
};
use serde::Serialize;

use super::payload::has_line_break;

/// Headers the payload rebuilder adds to carry Gmail's part metadata through MIME.
pub(crate) const X_ATTACHMENT_ID: &str = "X-Gcon-Attachment-Id";
pub(crate) const X_PART_ID: &str = "X-Gcon-Part-Id";
pub(crate) const X_BODY_SIZE: &str = "X-Gcon-Body-Size";
pub(crate) const X_MIME_TYPE: &str = "X-Gcon-Mime-Type";

/// A parsed address: `{name, email}` (the one address type of both connectors).
pub type EmailAddress = connector_core::mail::Mailbox;

/// One header as it appeared (unfolded; RFC 2047 words decoded in unstructured headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderField {
    pub name: String,
    pub value: String,
}

/// An attachment of a decoded message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    /// Gmail's attachment id (absent when the bytes were inline or decoded from raw MIME).
    pub attachment_id: Option<String>,
    /// Gmail's part id, when known.
    pub part_id: Option<String>,
    pub filename: Option<String>,
    pub mime_type: String,
    /// Size of the decoded bytes.
    pub size: u64,
    pub content_id: Option<String>,
    /// Shown inline (Content-Disposition: inline) rather than attached.
    pub inline: bool,
    /// Decoded bytes when they were present in the MIME (not serialized).
    #[serde(skip)]
    pub data: Option<Vec<u8>>,
}

/// What a message's MIME decodes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MimeDecoded {
    pub subject: Option<String>,
    pub from: Option<EmailAddress>,
    /// Every From address (RFC 5322 allows several); `from` is the first.
    #[serde(skip)]
    pub from_all: Vec<EmailAddress>,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub bcc: Vec<EmailAddress>,
    pub reply_to: Vec<EmailAddress>,
    /// The Date header as RFC 3339.
    pub date: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub headers: Vec<HeaderField>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
    pub warnings: Vec<String>,
    /// The attachment id of the part that is the text body when Gmail holds it as an
    /// attachment (a text part with a file name in a `format=full` payload).
    #[serde(skip)]
    pub held_body: Option<String>,
    /// `text` is a rendering of an HTML part (the message has no plain-text body).
    #[serde(skip)]
    pub text_from_html: bool,
}

/// Decodes a whole RFC 5322 message. Never fails; see `warnings`.
pub fn decode_mime(raw: &[u8]) -> MimeDecoded {
    let (raw, repairs) = super::repair::repair(raw);
    let mut out = MimeDecoded::default();
    let msg = match parse_guarded(&raw) {
        Ok(Some(msg)) => msg,
        Ok(None) => {
            out.warnings.extend(repairs);
            out.warnings
                .push("the message could not be parsed as MIME: no headers or body found".into());
            return out;
        }
        Err(()) => {
            let mut out = decode_headers_only(&raw);
            out.warnings.splice(0..0, repairs);
            return out;
        }
    };
    out.warnings = repairs;
    decode_headers(&msg, &mut out);
    decode_bodies(&msg, &mut out);
    out
}

/// mail-parser 0.11 panics on a few malformed structures (e.g. an empty message/rfc822 nested
/// in a multipart). A panic there must not fail the call: it becomes `Err`.
pub(crate) fn parse_guarded(raw: &[u8]) -> Result<Option<Message<'_>>, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MessageParser::new().parse(raw)
    }))
    .map_err(|_| ())
}

/// The fallback when the MIME structure cannot be parsed: headers decoded, the rest of the
/// message kept as text.
fn decode_headers_only(raw: &[u8]) -> MimeDecoded {
    let mut out = MimeDecoded::default();
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(raw.len());
    let mut head = raw[..head_end].to_vec();
    head.extend_from_slice(b"\r\n");
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MessageParser::new().parse_headers(&head).map(|m| {
            let mut d = MimeDecoded::default();
            decode_headers(&m, &mut d);
            d
        })
    }));
    if let Ok(Some(d)) = parsed {
        out = d;
    }
    out.text = Some(String::from_utf8_lossy(&raw[head_end..]).into_owned());
    out.warnings.push(
        "the MIME structure could not be parsed; the body is given as raw text and attachments are not listed"
            .into(),
    );
    out
}

pub(crate) fn decode_headers(msg: &Message<'_>, out: &mut MimeDecoded) {
    let raw = msg.raw_message();
    // The first Subject when there are several (mail-parser keeps the last).
    out.subject = msg
        .root_part()
        .headers
        .iter()
        .find(|h| is(&h.name, &HeaderName::Subject))
        .and_then(|h| {
            h.value()
                .as_text()
                .map(|t| unfolded_text(t, raw, h.offset_start, h.offset_end))
        });
    let root = msg.root_part();
    let mut warnings = Vec::new();
    // The last From / Reply-To header as mail-parser reads it, every To / Cc / Bcc header.
    out.from_all = header_addresses(root, raw, HeaderName::From, true, &mut warnings);
    out.from = out.from_all.first().cloned();
    out.to = header_addresses(root, raw, HeaderName::To, false, &mut warnings);
    out.cc = header_addresses(root, raw, HeaderName::Cc, false, &mut warnings);
    out.bcc = header_addresses(root, raw, HeaderName::Bcc, false, &mut warnings);
    out.reply_to = header_addresses(root, raw, HeaderName::ReplyTo, true, &mut warnings);
    out.warnings.extend(warnings);
    out.date = msg.date().map(rfc3339);
    out.message_id = msg.message_id().map(bracketed);
    out.in_reply_to = id_list(msg.in_reply_to()).into_iter().next();
    out.references = id_list(msg.references());

    let root = msg.root_part();
    for h in &root.headers {
        let name = h.name().to_string();
        if is_internal_header(&name) {
            continue;
        }
        out.headers.push(HeaderField {
            value: header_text(h.value(), raw, h.offset_start, h.offset_end),
            name,
        });
    }
    for (name, kind) in [
        (HeaderName::From, "From"),
        (HeaderName::To, "To"),
        (HeaderName::Cc, "Cc"),
        (HeaderName::Date, "Date"),
    ] {
        if let Some(h) = root.headers.iter().find(|h| is(&h.name, &name)) {
            let bad = match (&name, h.value()) {
                (HeaderName::Date, v) => v.as_datetime().is_none(),
                (_, v) => v.as_address().is_none_or(|a| a.iter().next().is_none()),
            };
            if !bad {
                continue;
            }
            let raw_value = header_raw(raw, h.offset_start, h.offset_end);
            // `<>` alone is the null address (bounces), not a parse failure.
            if !raw_value.trim().is_empty() && raw_value.trim() != "<>" {
                out.warnings.push(format!(
                    "the {kind} header could not be parsed: {:?}",
                    truncate(&raw_value, 120)
                ));
            }
        }
    }
}

pub(crate) fn decode_bodies(msg: &Message<'_>, out: &mut MimeDecoded) {
    let text_parts: Vec<u32> = msg
        .text_body
        .iter()
        .copied()
        .filter(|id| {
            matches!(
                msg.parts.get(*id as usize).map(|p| &p.body),
                Some(PartType::Text(_) | PartType::Html(_))
            )
        })
        .collect();
    // A part Gmail holds behind an attachment id (it does so for every part with a file name,
    // text parts included) has no bytes here: it cannot be the body.
    let held = |id: &u32| {
        msg.parts
            .get(*id as usize)
            .and_then(|p| part_header(p, X_ATTACHMENT_ID))
    };
    // The first text/plain body (mail-parser converts an HTML-only body to text for us).
    let text_pos = msg.text_body.iter().position(|id| held(id).is_none());
    out.text = text_pos
        .and_then(|pos| msg.body_text(pos))
        .map(|t| t.into_owned());
    out.text_from_html = text_pos.is_some_and(|pos| {
        matches!(
            msg.parts.get(msg.text_body[pos] as usize).map(|p| &p.body),
            Some(PartType::Html(_))
        )
    });
    // Only a real text/html part counts as html (mail-parser would render text as html).
    let html_part = msg.html_body.iter().copied().find(|id| {
        held(id).is_none()
            && matches!(
                msg.parts.get(*id as usize).map(|p| &p.body),
                Some(PartType::Html(_))
            )
    });
    out.html = html_part.and_then(|id| match &msg.parts[id as usize].body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });

    for (index, part) in msg.parts.iter().enumerate() {
        check_part(index, part, out);
    }
    let mut attachments: Vec<u32> = msg.attachments.clone();
    if out.text.is_none() && out.html.is_none() {
        // A text part mail-parser did not take as the body (e.g. `Content-Type: text` without a
        // subtype): an unnamed, not-attached text part is still the body.
        if let Some(pos) = attachments.iter().position(|id| {
            let part = &msg.parts[*id as usize];
            matches!(part.body, PartType::Text(_))
                && part.attachment_name().is_none()
                && !part
                    .content_disposition()
                    .is_some_and(|cd| cd.c_type.eq_ignore_ascii_case("attachment"))
        }) {
            if let PartType::Text(t) = &msg.parts[attachments[pos] as usize].body {
                out.text = Some(t.to_string());
            }
            attachments.remove(pos);
        }
    }
    // Further inline text parts (multipart/mixed with several text parts) are not part of the
    // first body: list them as attachments so nothing is lost.
    let first_body = text_parts.iter().copied().find(|id| held(id).is_none());
    for id in &text_parts {
        if Some(*id) != first_body && Some(*id) != html_part && !attachments.contains(id) {
            attachments.push(*id);
        }
    }
    if out.text.is_none() && out.html.is_none() {
        if let Some(id) = text_parts.iter().copied().find(|id| held(id).is_some()) {
            let attachment_id = held(&id).unwrap_or_default();
            out.warnings.push(format!(
                "the text body is a part with a file name, which Gmail holds as an attachment (attachment_id {attachment_id:?}); its text is not in this response: fetch the attachment or get the message with format raw"
            ));
            out.held_body = Some(attachment_id);
        }
    }
    attachments.sort_unstable();
    for id in attachments {
        if let Some(part) = msg.parts.get(id as usize) {
            out.attachments.push(attachment_info(part));
        }
    }
}

fn check_part(index: usize, part: &MessagePart<'_>, out: &mut MimeDecoded) {
    if part.is_encoding_problem {
        out.warnings.push(format!(
            "MIME part {index} is malformed or truncated; its content was decoded as far as possible"
        ));
    }
    if matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        if let Some(charset) = part.content_type().and_then(|ct| ct.attribute("charset")) {
            let known = charset_decoder(charset.as_bytes()).is_some()
                || ["utf-8", "utf8", "us-ascii", "ascii", "7bit", "8bit"]
                    .iter()
                    .any(|c| charset.trim().eq_ignore_ascii_case(c));
            if !known {
                out.warnings.push(format!(
                    "MIME part {index} declares the unknown charset {:?}: decoded as UTF-8, invalid bytes replaced",
                    truncate(charset, 60)
                ));
            }
        }
    }
}

/// A part's unstructured header (trimmed), by name.
fn part_header(part: &MessagePart<'_>, name: &str) -> Option<String> {
    part.headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .and_then(|h| match h.value() {
            HeaderValue::Text(t) => Some(t.trim().to_string()),
            _ => None,
        })
}

fn attachment_info(part: &MessagePart<'_>) -> AttachmentInfo {
    let header = |name: &str| part_header(part, name);
    let content_type = part
        .content_type()
        .map(|ct| match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub),
            None => ct.c_type.to_string(),
        })
        .map(|t| t.to_ascii_lowercase());
    let mime_type = header(X_MIME_TYPE).or(content_type).unwrap_or_else(|| {
        match &part.body {
            PartType::Message(_) => "message/rfc822",
            PartType::Text(_) => "text/plain",
            PartType::Html(_) => "text/html",
            _ => "application/octet-stream",
        }
        .into()
    });
    let data: Option<Vec<u8>> = match &part.body {
        PartType::Text(t) | PartType::Html(t) => Some(t.as_bytes().to_vec()),
        PartType::Binary(b) | PartType::InlineBinary(b) => Some(b.to_vec()),
        PartType::Message(m) => Some(m.raw_message().to_vec()),
        PartType::Multipart(_) => None,
    };
    let attachment_id = header(X_ATTACHMENT_ID);
    let size = header(X_BODY_SIZE)
        .and_then(|s| s.parse().ok())
        .filter(|_| attachment_id.is_some())
        .unwrap_or_else(|| data.as_ref().map_or(0, |d| d.len() as u64));
    let filename = part.attachment_name().map(clean_line);
    AttachmentInfo {
        attachment_id: attachment_id.clone(),
        part_id: header(X_PART_ID),
        filename,
        mime_type,
        size,
        content_id: part.content_id().map(|s| s.to_string()),
        inline: part
            .content_disposition()
            .is_some_and(|cd| cd.c_type.eq_ignore_ascii_case("inline")),
        data: if attachment_id.is_some() { None } else { data },
    }
}

/// The addresses of the root's `name` headers (only the last such header when `last_only`).
fn header_addresses(
    root: &MessagePart<'_>,
    raw: &[u8],
    name: HeaderName<'static>,
    last_only: bool,
    warnings: &mut Vec<String>,
) -> Vec<EmailAddress> {
    let mut read = |h: &Header<'_>| {
        let raw_value = header_raw(raw, h.offset_start, h.offset_end);
        header_mailboxes(h.value().as_address(), &raw_value, h.name(), warnings)
    };
    if last_only {
        return root
            .headers
            .iter()
            .rfind(|h| is(&h.name, &name))
            .map(&mut read)
            .unwrap_or_default();
    }
    root.headers
        .iter()
        .filter(|h| is(&h.name, &name))
        .flat_map(read)
        .collect()
}

/// `name` is the known header `known` (what `==` answers for a `known` that is not
/// `HeaderName::Other`, without its call: `decode_headers` asks it for every header).
fn is(name: &HeaderName<'_>, known: &HeaderName<'_>) -> bool {
    debug_assert!(!matches!(known, HeaderName::Other(_)));
    !matches!(name, HeaderName::Other(_))
        && std::mem::discriminant(name) == std::mem::discriminant(known)
}

/// mail-parser's `DateTime::to_rfc3339`, written without the formatting machinery.
fn rfc3339(d: &mail_parser::DateTime) -> String {
    let mut s = String::with_capacity(25);
    zero_padded(&mut s, d.year.into(), 4);
    s.push('-');
    zero_padded(&mut s, d.month.into(), 2);
    s.push('-');
    zero_padded(&mut s, d.day.into(), 2);
    s.push('T');
    zero_padded(&mut s, d.hour.into(), 2);
    s.push(':');
    zero_padded(&mut s, d.minute.into(), 2);
    s.push(':');
    zero_padded(&mut s, d.second.into(), 2);
    if d.tz_hour != 0 || d.tz_minute != 0 {
        s.push(if d.tz_before_gmt { '-' } else { '+' });
        zero_padded(&mut s, d.tz_hour.into(), 2);
        s.push(':');
        zero_padded(&mut s, d.tz_minute.into(), 2);
    } else {
        s.push('Z');
    }
    s
}

/// `n` in decimal, at least `width` digits (`format!("{n:0width$}")`).
fn zero_padded(s: &mut String, n: u32, width: usize) {
    let mut digits = [0u8; 10];
    let (mut i, mut n) = (digits.len(), n);
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in digits.len() - i..width {
        s.push('0');
    }
    s.extend(digits[i..].iter().map(|&b| char::from(b)));
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![bracketed(t.trim())],
        HeaderValue::TextList(l) => l.iter().map(|t| bracketed(t.trim())).collect(),
        _ => Vec::new(),
    }
}

/// `<id>` (what `format!("<{id}>")` gives, without the formatting machinery).
fn bracketed(id: &str) -> String {
    let mut s = String::with_capacity(id.len() + 2);
    s.push('<');
    s.push_str(id);
    s.push('>');
    s
}

fn header_text(v: &HeaderValue<'_>, raw: &[u8], start: u32, end: u32) -> String {
    match v {
        HeaderValue::Text(t) => unfolded_text(t, raw, start, end),
        _ => header_raw(raw, start, end),
    }
}

/// An unstructured header's text unfolded as RFC 5322 section 2.2.3 says (and CPython does):
/// only the line breaks go, the whitespace after them stays (a folded `\tbar` keeps its tab).
/// mail-parser replaces each fold with one space, so a folded value is decoded again from its
/// raw bytes with the breaks removed.
fn unfolded_text(decoded: &str, raw: &[u8], start: u32, end: u32) -> String {
    let value = raw.get(start as usize..end as usize).unwrap_or_default();
    let body = trim_trailing_newline(value);
    if !body.contains(&b'\n') {
        return clean_line(decoded);
    }
    let mut line = b"Subject:".to_vec();
    line.extend(body.iter().filter(|&&b| b != b'\r' && b != b'\n'));
    line.extend_from_slice(b"\r\n\r\n");
    let again = std::panic::catch_unwind(|| {
        MessageParser::new()
            .parse_headers(&line)
            .and_then(|m| m.subject().map(str::to_string))
    });
    match again {
        Ok(Some(text)) => text.trim().to_string(),
        _ => clean_line(decoded),
    }
}

fn trim_trailing_newline(mut s: &[u8]) -> &[u8] {
    while let Some(rest) = s.strip_suffix(b"\n").or_else(|| s.strip_suffix(b"\r")) {
        s = rest;
    }
    s
}

fn header_raw(raw: &[u8], start: u32, end: u32) -> String {
    let bytes = raw.get(start as usize..end as usize).unwrap_or_default();
    clean_line(&String::from_utf8_lossy(bytes))
}

/// Unfolds a header value and trims it.
fn clean_line(s: &str) -> String {
    // Most values are one line (a raw value ends with its CRLF): then this is `trim` (a
    // leading tab is whitespace to it too).
    let one_line = s.trim_end_matches(['\r', '\n']);
    if !has_line_break(one_line) {
        return one_line.trim().to_string();
    }
    unfold_lines(s)
}

/// [`clean_line`] without its short cut: the line breaks go, a space joins pieces that would
/// touch, leading tabs of continuation lines go, the result is trimmed.
fn unfold_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for piece in s.split(['\r', '\n']) {
        let piece = piece.trim_start_matches(['\t']);
        if !out.is_empty() && !piece.is_empty() && !out.ends_with(' ') && !piece.starts_with(' ') {
            out.push(' ');
        }
        out.push_str(piece);
    }
    out.trim().to_string()
}

fn is_internal_header(name: &str) -> bool {
    [X_ATTACHMENT_ID, X_PART_ID, X_BODY_SIZE, X_MIME_TYPE]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn clean_line_short_cut_gives_what_the_unfolding_gives(s in "[a \t\r\n\u{e9}]{0,14}") {
            proptest::prop_assert_eq!(clean_line(&s), unfold_lines(&s));
        }

        #[test]
        fn rfc3339_gives_what_mail_parser_gives(
            year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8,
            tz_before_gmt: bool, tz_hour in proptest::prop_oneof![0u8..3, proptest::num::u8::ANY],
            tz_minute in proptest::prop_oneof![0u8..3, proptest::num::u8::ANY],
        ) {
            let d = mail_parser::DateTime {
                year, month, day, hour, minute, second, tz_before_gmt, tz_hour, tz_minute,
            };
            proptest::prop_assert_eq!(rfc3339(&d), d.to_rfc3339());
        }
    }

    #[test]
    fn a_known_header_is_what_equality_says() {
        let names = [
            HeaderName::From,
            HeaderName::To,
            HeaderName::Subject,
            HeaderName::Date,
            HeaderName::Other("From".into()),
            HeaderName::Other("X-Other".into()),
        ];
        for name in &names {
            for known in &names[..4] {
                assert_eq!(is(name, known), name == known, "{name:?} {known:?}");
            }
        }
    }

    #[test]
    fn decodes_quoted_printable_latin1_and_encoded_words() {
        let raw = b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\nTo: a@example.com, \"B, Bee\" <b@example.com>\r\nSubject: =?UTF-8?B?w6l0w6k=?=\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9\r\n";
        let d = decode_mime(raw);
        assert_eq!(d.subject.as_deref(), Some("été"));
        assert_eq!(d.from.as_ref().unwrap().name.as_deref(), Some("André"));
        assert_eq!(d.from.as_ref().unwrap().email, "andre@example.com");
        assert_eq!(d.to.len(), 2);
        assert_eq!(d.to[1].name.as_deref(), Some("B, Bee"));
        assert_eq!(d.text.as_deref().map(str::trim_end), Some("Café"));
        assert_eq!(d.html, None);
        assert_eq!(d.date.as_deref(), Some("2003-07-01T10:52:37+02:00"));
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn html_only_mail_gets_a_readable_text() {
        let raw = b"From: a@example.com\r\nSubject: hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello <b>world</b></p></body></html>\r\n";
        let d = decode_mime(raw);
        assert!(d.html.as_deref().unwrap().contains("<b>world</b>"));
        let text = d.text.unwrap();
        assert!(text.contains("Hello world"), "{text:?}");
        assert!(!text.contains('<'));
    }

    #[test]
    fn unknown_charset_and_garbage_never_fail() {
        let raw =
            b"Subject: x\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\nabc\xff\r\n";
        let d = decode_mime(raw);
        assert!(d.text.unwrap().starts_with("abc"));
        assert!(
            d.warnings.iter().any(|w| w.contains("x-no-such-charset")),
            "{:?}",
            d.warnings
        );
        let d = decode_mime(b"");
        assert!(!d.warnings.is_empty());
        let d = decode_mime(b"\xff\xfe\x00garbage without headers");
        let _ = d.text;
    }

    #[test]
    fn a_structure_that_panics_mail_parser_still_decodes() {
        let raw = b"Subject: nested\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n\r\n--b--\r\n";
        let d = decode_mime(raw);
        assert_eq!(d.subject.as_deref(), Some("nested"));
        assert!(d.text.unwrap().contains("--b--"));
        assert!(
            d.warnings.iter().any(|w| w.contains("could not be parsed")),
            "{:?}",
            d.warnings
        );
    }

    #[test]
    fn attachments_are_listed_with_decoded_size() {
        let raw = b"Subject: a\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nbody\r\n--XX\r\nContent-Type: application/pdf; name=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--XX--\r\n";
        let d = decode_mime(raw);
        assert_eq!(d.text.as_deref().map(str::trim_end), Some("body"));
        assert_eq!(d.attachments.len(), 1);
        let a = &d.attachments[0];
        assert_eq!(a.filename.as_deref(), Some("résumé.pdf"));
        assert_eq!(a.mime_type, "application/pdf");
        assert_eq!(a.size, 5);
        assert_eq!(a.data.as_deref(), Some(&[0u8, 1, 2, 3, 4][..]));
    }
}
