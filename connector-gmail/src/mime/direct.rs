//! Decodes a Gmail `format=full` payload tree straight into [`MimeDecoded`] (issue 27), without
//! rebuilding MIME bytes ([`payload_to_mime`]) and parsing them again.
//!
//! The result is the one the rebuild + [`decode_mime`] gives, by construction: each part's
//! header block is written exactly as the rebuild writes it and parsed by mail-parser (headers
//! only), the body is Gmail's base64url `data` decoded once (charset applied as mail-parser
//! applies it), the parts are classified as body / attachment by the rules mail-parser 0.11
//! applies while it parses (`parsers/message.rs`), and the resulting `Message` goes through the
//! same `decode_headers` / `decode_bodies` as any parsed message. What is skipped is the work
//! in between: base64 encoding every body, the repair pass and boundary scan over the whole
//! rebuilt message, and base64 decoding every body again.
//!
//! Payloads the direct path does not reproduce exactly are decoded the old way (detected, not
//! guessed): a multipart with no parts (e.g. `format=metadata`), a `message/*` part with
//! content, a part whose own Content-Type says multipart or message where the tree says leaf,
//! a `multipart/digest`, body data that is not valid base64url, nesting deeper than the
//! rebuild keeps, or anything that makes mail-parser panic.
//! `tests/integration/payload_direct.rs` checks the equality on the MIME corpus.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;

use super::view::PartView;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    ContentType, Encoding, Header, HeaderName, HeaderValue, Message, MessageParser, MessagePart,
    PartType,
};

use super::decode::{decode_bodies, decode_headers, decode_mime, MimeDecoded};
use super::payload::{decode_base64url, payload_to_mime, Writer, MAX_DEPTH};

/// Decodes a `format=full` (or `metadata`) payload tree. Problems go to the result's
/// `warnings` and to `warnings` (as [`payload_to_mime`] reports them).
pub fn decode_payload<P: PartView>(payload: &P, warnings: &mut Vec<String>) -> MimeDecoded {
    match std::panic::catch_unwind(AssertUnwindSafe(|| direct(payload))) {
        Ok(Some(d)) => d,
        _ => decode_payload_rebuilt(payload, warnings),
    }
}

/// Decodes a `format=metadata` payload: the root's headers and nothing below them (Gmail
/// sends no parts or bodies in that format). The header fields (`subject` to `references`,
/// `headers`) and `warnings` are those of [`decode_payload`]; `text`, `html` and `attachments`
/// are not decoded. A metadata payload of a multipart message is a multipart without parts,
/// which [`decode_payload`] can only rebuild as MIME and parse again; here its header block is
/// parsed alone.
pub fn decode_payload_metadata<P: PartView>(
    payload: &P,
    warnings: &mut Vec<String>,
) -> MimeDecoded {
    let childless_multipart = payload
        .mime_type()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/"))
        && payload.parts().is_empty();
    if childless_multipart {
        if let Some(d) = decode_payload_metadata_direct(payload) {
            return d;
        }
    }
    decode_payload(payload, warnings)
}

/// The header-block decode of [`decode_payload_metadata`] alone: `None` where it decodes the
/// payload as [`decode_payload`] does (a payload with parts, a leaf). For tests.
#[doc(hidden)]
pub fn decode_payload_metadata_direct<P: PartView>(payload: &P) -> Option<MimeDecoded> {
    std::panic::catch_unwind(AssertUnwindSafe(|| root_headers(payload)))
        .ok()
        .flatten()
}

/// The root header block of a multipart without parts, written as the rebuild writes it and
/// parsed by mail-parser, decoded by the same `decode_headers`.
fn root_headers<P: PartView>(payload: &P) -> Option<MimeDecoded> {
    if !payload.parts().is_empty() {
        return None;
    }
    let mut unused = Vec::new();
    let mut b = Builder {
        writer: Writer::new(&mut unused, 512),
        msg: Message::default(),
        root_head: None,
    };
    let mime_type = payload.mime_type()?.to_ascii_lowercase();
    if !mime_type.starts_with("multipart/") {
        return None;
    }
    b.writer.multipart_head(payload.headers(), &mime_type);
    let headers = b.head()?;
    let root_head = b.root_head?;
    let len = u32::try_from(root_head.len()).ok()?;
    let mut msg = b.msg;
    msg.parts.push(MessagePart {
        headers,
        is_encoding_problem: false,
        body: PartType::Multipart(Vec::new()),
        encoding: Encoding::None,
        offset_header: 0,
        offset_body: len,
        offset_end: len,
    });
    msg.raw_message = Cow::Owned(root_head);
    let mut out = MimeDecoded::default();
    decode_headers(&msg, &mut out);
    Some(out)
}

/// The rebuild + re-parse decode ([`payload_to_mime`], then [`decode_mime`]): the fallback of
/// [`decode_payload`] and the oracle its tests compare with.
#[doc(hidden)]
pub fn decode_payload_rebuilt<P: PartView>(payload: &P, warnings: &mut Vec<String>) -> MimeDecoded {
    decode_mime(&payload_to_mime(payload, warnings))
}

/// mail-parser's `MimeType` (private there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    MultipartMixed,
    MultipartAlternative,
    MultipartRelated,
    MultipartDigest,
    TextPlain,
    TextHtml,
    TextOther,
    Inline,
    Message,
    Other,
}

/// mail-parser's `mime_type()`: (is_multipart, is_inline, is_text, kind).
fn kind(ct: Option<&ContentType<'_>>, parent: Kind) -> (bool, bool, bool, Kind) {
    match ct {
        Some(ct) => match ct.ctype() {
            "multipart" => (
                true,
                false,
                false,
                match ct.subtype() {
                    Some("mixed") => Kind::MultipartMixed,
                    Some("alternative") => Kind::MultipartAlternative,
                    Some("related") => Kind::MultipartRelated,
                    Some("digest") => Kind::MultipartDigest,
                    _ => Kind::Other,
                },
            ),
            "text" => match ct.subtype() {
                Some("plain") => (false, true, true, Kind::TextPlain),
                Some("html") => (false, true, true, Kind::TextHtml),
                _ => (false, false, true, Kind::TextOther),
            },
            "image" | "audio" | "video" => (false, true, false, Kind::Inline),
            "message" if matches!(ct.subtype(), Some("rfc822" | "global")) => {
                (false, false, false, Kind::Message)
            }
            _ => (false, false, false, Kind::Other),
        },
        None if parent == Kind::MultipartDigest => (false, false, false, Kind::Message),
        None => (false, true, true, Kind::TextPlain),
    }
}

/// mail-parser's per-multipart parser state (`MessageParserState`), the fields that matter.
struct State {
    kind: Kind,
    in_alternative: bool,
    parts: usize,
    html_parts: usize,
    text_parts: usize,
    need_html_body: bool,
    need_text_body: bool,
    sub_part_ids: Vec<u32>,
}

struct Builder<'w> {
    writer: Writer<'w>,
    msg: Message<'static>,
    /// The root's header block: the message's raw bytes as far as `decode_headers` reads them.
    root_head: Option<Vec<u8>>,
}

fn direct<P: PartView>(payload: &P) -> Option<MimeDecoded> {
    let mut unused = Vec::new();
    let mut b = Builder {
        writer: Writer::new(&mut unused, 512),
        msg: Message::default(),
        root_head: None,
    };
    let mut top = State {
        kind: Kind::Message,
        in_alternative: false,
        parts: 0,
        html_parts: 0,
        text_parts: 0,
        need_html_body: true,
        need_text_body: true,
        sub_part_ids: Vec::new(),
    };
    b.part(payload, 0, &mut top)?;
    let mut msg = b.msg;
    let root_head = b.root_head?;
    // As mail-parser leaves it: the root part spans the raw message (its headers' offsets
    // point into the header block, which starts the message).
    let len = u32::try_from(root_head.len()).ok()?;
    let root = msg.parts.first_mut()?;
    (root.offset_body, root.offset_end) = (len, len);
    msg.raw_message = Cow::Owned(root_head);
    let mut out = MimeDecoded::default();
    decode_headers(&msg, &mut out);
    decode_bodies(&msg, &mut out);
    Some(out)
}

fn header_value<'a>(
    headers: &'a [Header<'static>],
    name: &HeaderName<'_>,
) -> Option<&'a HeaderValue<'static>> {
    headers
        .iter()
        .rev()
        .find(|h| &h.name == name)
        .map(|h| &h.value)
}

impl Builder<'_> {
    /// Parses the header block just written (headers only, as mail-parser parses them in the
    /// whole message) and takes it out of the writer.
    fn head(&mut self) -> Option<Vec<Header<'static>>> {
        let block = std::mem::take(&mut self.writer.out);
        // What `MessageParser::parse_headers` does with a header block (the same header
        // parser, `None` when it finds no header), without the `Message` it builds around them.
        let mut parsed = Vec::new();
        MessageStream::new(&block).parse_headers(&MessageParser::new(), &mut parsed);
        if parsed.is_empty() {
            return None;
        }
        let headers: Vec<Header<'static>> = parsed.into_iter().map(Header::into_owned).collect();
        if self.root_head.is_none() {
            self.root_head = Some(block);
        }
        Some(headers)
    }

    fn part<P: PartView>(&mut self, node: &P, depth: usize, state: &mut State) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mime_type = node
            .mime_type()
            .unwrap_or("text/plain")
            .to_ascii_lowercase();
        let children = node.parts();
        let headers = node.headers();
        state.parts += 1;
        let id = self.msg.parts.len() as u32;
        state.sub_part_ids.push(id);

        if mime_type.starts_with("multipart/") {
            if children.is_empty() {
                return None;
            }
            self.writer.multipart_head(headers, &mime_type);
            let headers = self.head()?;
            let ct =
                header_value(&headers, &HeaderName::ContentType).and_then(|v| v.as_content_type());
            let (is_multipart, _, _, kind) = kind(ct, state.kind);
            if !is_multipart
                || ct.and_then(|c| c.attribute("boundary")).is_none()
                || kind == Kind::MultipartDigest
            {
                return None;
            }
            let mut inner = State {
                in_alternative: state.in_alternative || kind == Kind::MultipartAlternative,
                kind,
                parts: 0,
                html_parts: self.msg.html_body.len(),
                text_parts: self.msg.text_body.len(),
                need_html_body: state.need_html_body,
                need_text_body: state.need_text_body,
                sub_part_ids: Vec::new(),
            };
            self.msg.parts.push(MessagePart {
                headers,
                is_encoding_problem: false,
                body: PartType::default(),
                encoding: Encoding::None,
                offset_header: 0,
                offset_body: 0,
                offset_end: 0,
            });
            for child in children {
                self.part(child, depth + 1, &mut inner)?;
            }
            let m = &mut self.msg;
            if inner.kind == Kind::MultipartAlternative
                && inner.need_html_body
                && inner.need_text_body
            {
                // Found HTML part only
                if inner.text_parts == m.text_body.len() && inner.html_parts != m.html_body.len() {
                    let ids: Vec<u32> = m.html_body[inner.html_parts..].to_vec();
                    m.text_body.extend(ids);
                }
                // Found text part only
                if inner.html_parts == m.html_body.len() && inner.text_parts != m.text_body.len() {
                    let ids: Vec<u32> = m.text_body[inner.text_parts..].to_vec();
                    m.html_body.extend(ids);
                }
            }
            if inner.sub_part_ids.len() != 1 || inner.sub_part_ids[0] != 0 {
                m.parts[id as usize].body = PartType::Multipart(inner.sub_part_ids);
            }
            return Some(());
        }
        if mime_type.starts_with("message/") && !children.is_empty() {
            return None;
        }
        self.writer.leaf_head(node, &mime_type, headers);
        let headers = self.head()?;
        let data = match node.body_data() {
            Some(d) => decode_base64url(d)?,
            None => Vec::new(),
        };
        let ct = header_value(&headers, &HeaderName::ContentType).and_then(|v| v.as_content_type());
        let (is_multipart, is_inline, is_text, kind) = kind(ct, state.kind);
        if is_multipart || kind == Kind::Message {
            return None;
        }
        if !matches!(header_value(&headers, &HeaderName::ContentTransferEncoding), Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64"))
        {
            return None;
        }
        let is_inline = is_inline
            && header_value(&headers, &HeaderName::ContentDisposition)
                .is_none_or(|d| !d.as_content_type().is_some_and(|ct| ct.is_attachment()))
            && (state.parts == 1
                || state.kind != Kind::MultipartRelated
                    && (kind == Kind::Inline || ct.is_none_or(|c| !c.has_attribute("name"))));
        let (add_to_html, add_to_text) = if state.kind == Kind::MultipartAlternative {
            match kind {
                Kind::TextHtml => (true, false),
                Kind::TextPlain => (false, true),
                _ => (false, false),
            }
        } else if is_inline {
            if state.in_alternative && (state.need_text_body || state.need_html_body) {
                match kind {
                    Kind::TextHtml => state.need_text_body = false,
                    Kind::TextPlain => state.need_html_body = false,
                    _ => (),
                }
            }
            (state.need_html_body, state.need_text_body)
        } else {
            (false, false)
        };
        let m = &mut self.msg;
        if add_to_html {
            m.html_body.push(id);
        }
        if add_to_text {
            m.text_body.push(id);
        }
        let body = if is_text {
            let text = match ct
                .and_then(|ct| ct.attribute("charset"))
                .and_then(|c| charset_decoder(c.as_bytes()))
            {
                Some(decoder) => decoder(&data),
                None => String::from_utf8(data)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            };
            let is_html = kind == Kind::TextHtml;
            if !add_to_html && is_html || !add_to_text && !is_html {
                m.attachments.push(id);
            }
            if is_html {
                PartType::Html(text.into())
            } else {
                PartType::Text(text.into())
            }
        } else {
            m.attachments.push(id);
            if is_inline {
                PartType::InlineBinary(data.into())
            } else {
                PartType::Binary(data.into())
            }
        };
        m.parts.push(MessagePart {
            headers,
            is_encoding_problem: false,
            body,
            encoding: Encoding::Base64,
            offset_header: 0,
            offset_body: 0,
            offset_end: 0,
        });
        Some(())
    }
}

/// The direct decode alone: `None` where [`decode_payload`] falls back to the rebuild (see the
/// module docs). For tests and benchmarks.
#[doc(hidden)]
pub fn decode_payload_direct<P: PartView>(payload: &P) -> Option<MimeDecoded> {
    std::panic::catch_unwind(AssertUnwindSafe(|| direct(payload)))
        .ok()
        .flatten()
}
