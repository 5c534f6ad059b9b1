//! Rebuilds RFC 5322 bytes from a Gmail `format=full` payload tree so that it goes through the
//! same decoder as raw messages.
//!
//! Gmail hands every leaf part's body already transfer-decoded (base64url in `body.data`) but in
//! its original charset, with the part's original headers. We write each leaf back as base64
//! under its own headers (Content-Transfer-Encoding replaced), give multiparts fresh boundaries,
//! and carry Gmail's `attachmentId`, `partId` and size in private headers the decoder reads.

use super::view::{HeaderView, PartView};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

use super::decode::{X_ATTACHMENT_ID, X_BODY_SIZE, X_MIME_TYPE, X_PART_ID};

/// Deepest nesting rebuilt; deeper parts are dropped with a warning.
pub(crate) const MAX_DEPTH: usize = 40;

/// MIME bytes for a Gmail payload. Problems go to `warnings`.
pub fn payload_to_mime<P: PartView>(payload: &P, warnings: &mut Vec<String>) -> Vec<u8> {
    let mut w = Writer::new(warnings, 4096);
    w.part(payload, 0);
    w.out
}

/// Decodes Gmail's base64url (padded or not; tolerates standard base64 too).
pub fn decode_base64url(data: &str) -> Option<Vec<u8>> {
    let data = data.trim();
    URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(data))
        .or_else(|_| STANDARD.decode(data))
        .ok()
}

/// Writes the rebuilt MIME; the direct decoder (`super::direct`) uses its header blocks.
pub(crate) struct Writer<'w> {
    pub(crate) out: Vec<u8>,
    next_boundary: usize,
    /// Drawn at the first boundary: a message without parts needs none.
    nonce: Option<String>,
    warnings: &'w mut Vec<String>,
}

impl<'w> Writer<'w> {
    pub(crate) fn new(warnings: &'w mut Vec<String>, capacity: usize) -> Self {
        Writer {
            out: Vec::with_capacity(capacity),
            next_boundary: 0,
            nonce: None,
            warnings,
        }
    }

    fn part<P: PartView>(&mut self, part: &P, depth: usize) {
        if depth > MAX_DEPTH {
            self.warnings
                .push("message parts nested too deeply were left out".into());
            self.out.extend_from_slice(b"\r\n");
            return;
        }
        let mime_type = part
            .mime_type()
            .unwrap_or("text/plain")
            .to_ascii_lowercase();
        let children = part.parts();
        let headers = part.headers();

        if mime_type.starts_with("multipart/") {
            let boundary = self.multipart_head(headers, &mime_type);
            for child in children {
                self.line(&format!("--{boundary}"));
                self.part(child, depth + 1);
                self.out.extend_from_slice(b"\r\n");
            }
            self.line(&format!("--{boundary}--"));
            return;
        }
        if mime_type.starts_with("message/") && !children.is_empty() {
            // An attached message Gmail parsed: its one child holds the nested message's headers.
            self.headers(headers, &["content-transfer-encoding"]);
            self.out.extend_from_slice(b"\r\n");
            self.part(&children[0], depth + 1);
            return;
        }
        self.leaf(part, &mime_type, headers);
    }

    /// A multipart's header block (blank line included), with a fresh boundary; returns it.
    pub(crate) fn multipart_head<H: HeaderView>(
        &mut self,
        headers: &[H],
        mime_type: &str,
    ) -> String {
        self.next_boundary += 1;
        let nonce = self.nonce.get_or_insert_with(boundary_nonce);
        let boundary = format!("gcon.{}.{}", self.next_boundary, nonce);
        self.headers(headers, &["content-type", "content-transfer-encoding"]);
        self.line(&format!(
            "Content-Type: {mime_type}; boundary=\"{boundary}\""
        ));
        self.out.extend_from_slice(b"\r\n");
        boundary
    }

    fn leaf<P: PartView>(&mut self, part: &P, mime_type: &str, headers: &[P::Header]) {
        let data = match part.body_data() {
            Some(d) => decode_base64url(d).unwrap_or_else(|| {
                self.warnings.push(format!(
                    "the body of part {} is not valid base64url and was left out",
                    part.part_id().unwrap_or("?")
                ));
                Vec::new()
            }),
            None => Vec::new(),
        };
        self.leaf_head(part, mime_type, headers);
        let encoded = STANDARD.encode(&data);
        for chunk in encoded.as_bytes().chunks(76) {
            self.out.extend_from_slice(chunk);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// A leaf's header block (blank line included): its headers, Content-Transfer-Encoding
    /// base64, and Gmail's part metadata in private headers.
    pub(crate) fn leaf_head<P: PartView>(
        &mut self,
        part: &P,
        mime_type: &str,
        headers: &[P::Header],
    ) {
        let attachment_id = part.attachment_id();
        let has_content_type = headers
            .iter()
            .any(|h| header_name(h).eq_ignore_ascii_case("content-type"));
        // A part whose bytes live behind an attachment id cannot be parsed here: declare it
        // opaque so the decoder lists it as an attachment under its real type.
        let opaque = attachment_id.is_some()
            && (mime_type.starts_with("message/") || mime_type.starts_with("multipart/"));
        if opaque {
            self.headers(headers, &["content-type", "content-transfer-encoding"]);
            let name = part.filename().filter(|f| !f.is_empty());
            match name {
                Some(n) => self.line(&format!(
                    "Content-Type: application/octet-stream; name=\"{}\"",
                    n.replace(['"', '\\', '\r', '\n'], "_")
                )),
                None => self.line("Content-Type: application/octet-stream"),
            }
            self.line(&format!("{X_MIME_TYPE}: {mime_type}"));
        } else {
            self.headers(headers, &["content-transfer-encoding"]);
            if !has_content_type {
                self.line(&format!("Content-Type: {mime_type}"));
            }
        }
        if let Some(id) = attachment_id {
            self.line(&format!("{X_ATTACHMENT_ID}: {}", sanitize(id)));
            if let Some(size) = part.body_size() {
                self.line(&format!("{X_BODY_SIZE}: {size}"));
            }
        }
        if let Some(pid) = part.part_id().filter(|p| !p.is_empty()) {
            self.line(&format!("{X_PART_ID}: {}", sanitize(pid)));
        }
        self.line("Content-Transfer-Encoding: base64");
        self.out.extend_from_slice(b"\r\n");
    }

    fn headers<H: HeaderView>(&mut self, headers: &[H], skip: &[&str]) {
        for h in headers {
            let name = header_name(h);
            let value = h.value().unwrap_or_default();
            let valid_name =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            if !valid_name
                || skip.iter().any(|s| s.eq_ignore_ascii_case(name))
                || name
                    .get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("x-gcon-"))
            {
                continue;
            }
            // Written in place: this runs for every header of every part of every decode.
            self.out.extend_from_slice(name.as_bytes());
            self.out.extend_from_slice(b": ");
            if has_line_break(value) {
                self.out.extend_from_slice(sanitize(value).as_bytes());
            } else {
                self.out.extend_from_slice(value.as_bytes());
            }
            self.out.extend_from_slice(b"\r\n");
        }
    }

    fn line(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
}

/// 32 hex digits no message can predict: a random number drawn once per process and a
/// counter. Every decode needs one, and a fresh v4 UUID each time cost a `getrandom` call.
fn boundary_nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::LazyLock;
    static SEED: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:016x}{:016x}",
        *SEED,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `s` has a CR or LF (bytewise: `str::contains` with a char set decodes every char).
pub(crate) fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| b == b'\r' || b == b'\n')
}

fn header_name<H: HeaderView>(h: &H) -> &str {
    h.name().unwrap_or_default().trim()
}

/// Header values arrive unfolded; a value still folded is unfolded as RFC 5322 says (the line
/// break goes, the whitespace after it stays), and any other CR or LF, which would start a new
/// header, becomes a space.
fn sanitize(value: &str) -> String {
    if !has_line_break(value) {
        return value.to_string();
    }
    let unfolded = value
        .replace("\r\n ", " ")
        .replace("\r\n\t", "\t")
        .replace("\n ", " ")
        .replace("\n\t", "\t");
    unfolded.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::decode::decode_mime;
    use serde_json::json;

    fn b64(s: &[u8]) -> String {
        URL_SAFE.encode(s)
    }

    #[test]
    fn each_rebuild_has_its_own_32_digit_boundary_nonce() {
        let (a, b) = (boundary_nonce(), boundary_nonce());
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert_eq!(n.len(), 32, "{n}");
            assert!(n.bytes().all(|c| c.is_ascii_hexdigit()), "{n}");
        }
        assert_eq!(a[..16], b[..16], "one random draw per process");
    }

    #[test]
    fn rebuilt_payload_decodes_like_the_original() {
        let payload = json!({
            "partId": "", "mimeType": "multipart/mixed", "filename": "",
            "headers": [
                {"name": "From", "value": "Ada <ada@example.com>"},
                {"name": "Subject", "value": "=?ISO-8859-1?Q?caf=E9?="},
                {"name": "Content-Type", "value": "multipart/mixed; boundary=\"old\""}
            ],
            "body": {"size": 0},
            "parts": [
                {"partId": "0", "mimeType": "multipart/alternative", "filename": "",
                 "headers": [{"name": "Content-Type", "value": "multipart/alternative; boundary=\"x\""}],
                 "body": {"size": 0},
                 "parts": [
                    {"partId": "0.0", "mimeType": "text/plain", "filename": "",
                     "headers": [{"name": "Content-Type", "value": "text/plain; charset=iso-8859-1"},
                                 {"name": "Content-Transfer-Encoding", "value": "quoted-printable"}],
                     "body": {"size": 5, "data": b64(b"caf\xe9\n")}},
                    {"partId": "0.1", "mimeType": "text/html", "filename": "",
                     "headers": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
                     "body": {"size": 12, "data": b64("<p>café</p>".as_bytes())}}
                 ]},
                {"partId": "1", "mimeType": "application/pdf", "filename": "a.pdf",
                 "headers": [{"name": "Content-Type", "value": "application/pdf; name=\"a.pdf\""},
                             {"name": "Content-Disposition", "value": "attachment; filename=\"a.pdf\""},
                             {"name": "Content-Transfer-Encoding", "value": "base64"}],
                 "body": {"size": 12345, "attachmentId": "ANGjdJ_1"}},
                {"partId": "2", "mimeType": "message/rfc822", "filename": "fwd.eml",
                 "headers": [{"name": "Content-Type", "value": "message/rfc822"}],
                 "body": {"size": 99, "attachmentId": "ANGjdJ_2"}}
            ]
        });
        let mut warnings = Vec::new();
        let raw = payload_to_mime(&payload, &mut warnings);
        let d = decode_mime(&raw);
        assert!(
            warnings.is_empty() && d.warnings.is_empty(),
            "{warnings:?} {:?}",
            d.warnings
        );
        assert_eq!(d.subject.as_deref(), Some("café"));
        assert_eq!(d.text.as_deref(), Some("café\n"));
        assert_eq!(d.html.as_deref(), Some("<p>café</p>"));
        assert_eq!(d.attachments.len(), 2, "{:?}", d.attachments);
        let a = &d.attachments[0];
        assert_eq!(a.attachment_id.as_deref(), Some("ANGjdJ_1"));
        assert_eq!(a.part_id.as_deref(), Some("1"));
        assert_eq!(
            (a.filename.as_deref(), a.mime_type.as_str(), a.size),
            (Some("a.pdf"), "application/pdf", 12345)
        );
        let m = &d.attachments[1];
        assert_eq!(
            (m.filename.as_deref(), m.mime_type.as_str(), m.size),
            (Some("fwd.eml"), "message/rfc822", 99)
        );
        assert!(!d.headers.iter().any(|h| h.name.starts_with("X-Gcon")));
    }
}
