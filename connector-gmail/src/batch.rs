//! Gmail's batch endpoint: several GETs in one `multipart/mixed` request of `application/http`
//! parts (https://developers.google.com/gmail/api/guides/batch).

use mail_parser::{MimeHeaders, PartType};
use serde_json::Value;

/// The batch path under the API root.
pub const BATCH_PATH: &str = "/batch/gmail/v1";
/// Gmail refuses more than 100 calls in one batch.
pub const MAX_PARTS: usize = 100;
/// More than 50 calls per batch tends to be throttled.
pub const DEFAULT_PARTS: usize = 50;

/// One inner response of a batch.
#[derive(Debug, Clone)]
pub struct PartResponse {
    pub status: u16,
    pub body: Value,
    /// The part's `Retry-After`, when it has one.
    pub retry_after: Option<std::time::Duration>,
}

/// Builds the multipart body for GETs of `paths` (absolute paths with query, e.g.
/// `/gmail/v1/users/me/messages/ID?format=full`). Returns (content type, body). Each part's
/// Content-ID is `<item-N>` with N its index.
pub fn build(paths: &[String]) -> (String, Vec<u8>) {
    let boundary = format!("batch_{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(paths.len() * 160);
    for (i, path) in paths.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item-{i}>\r\n\r\nGET {path} HTTP/1.1\r\nAccept: application/json\r\n\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={boundary}"), body)
}

/// Parses a batch response into `n` slots, matched by Content-ID (`<response-item-N>`), or by
/// order for parts without one. A slot the response does not answer stays `None`.
pub fn parse(content_type: &str, body: &[u8], n: usize) -> Vec<Option<PartResponse>> {
    let mut slots: Vec<Option<PartResponse>> = vec![None; n];
    let mut doc = Vec::with_capacity(body.len() + content_type.len() + 20);
    doc.extend_from_slice(b"Content-Type: ");
    doc.extend_from_slice(content_type.replace(['\r', '\n'], " ").as_bytes());
    doc.extend_from_slice(b"\r\n\r\n");
    doc.extend_from_slice(body);
    let Ok(Some(msg)) = crate::mime::decode::parse_guarded(&doc) else {
        return slots;
    };
    let mut next_in_order = 0usize;
    for part in msg.parts.iter().skip(1) {
        let bytes: &[u8] = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
            _ => continue,
        };
        let Some(resp) = parse_http(bytes) else {
            continue;
        };
        let index = part
            .content_id()
            .and_then(|id| {
                id.trim_matches(['<', '>'])
                    .rsplit_once("item-")
                    .and_then(|(_, n)| n.parse::<usize>().ok())
            })
            .unwrap_or(next_in_order);
        next_in_order = index + 1;
        if let Some(slot) = slots.get_mut(index) {
            *slot = Some(resp);
        }
    }
    slots
}

/// Parses `HTTP/1.1 200 OK\r\nheaders\r\n\r\nbody`.
fn parse_http(bytes: &[u8]) -> Option<PartResponse> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start();
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (&text[..i], &text[i + 4..]),
        None => match text.find("\n\n") {
            Some(i) => (&text[..i], &text[i + 2..]),
            None => (text, ""),
        },
    };
    let status_line = head.lines().next()?;
    let mut words = status_line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    let status: u16 = words.next()?.parse().ok()?;
    let retry_after = head.lines().skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("retry-after") {
            return None;
        }
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
    });
    let body = body.trim();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
    };
    // Google usually sends no Retry-After; a quota refusal names the time in its message.
    let retry_after = retry_after
        .map(|s| std::time::Duration::from_secs_f64(s.min(60.0)))
        .or_else(|| {
            body["error"]["message"]
                .as_str()
                .and_then(connector_core::http::retry_after_in_message)
        });
    Some(PartResponse {
        status,
        body,
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_parts_and_parses_answers_by_content_id() {
        let (ct, body) = build(&[
            "/gmail/v1/users/me/messages/a?format=full".into(),
            "/x".into(),
        ]);
        let text = String::from_utf8(body).unwrap();
        let boundary = ct.split("boundary=").nth(1).unwrap();
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 2);
        assert!(text.contains("GET /gmail/v1/users/me/messages/a?format=full HTTP/1.1\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));

        // Answers out of order, with LF line ends in one part.
        let resp = "--rb\r\nContent-Type: application/http\r\nContent-ID: <response-item-1>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":404}}\r\n--rb\r\nContent-Type: application/http\nContent-ID: <response-item-0>\n\nHTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"id\":\"a\"}\n--rb--\r\n";
        let resp = resp.replace(
            "HTTP/1.1 404 Not Found\r\n",
            "HTTP/1.1 404 Not Found\r\nRetry-After: 3\r\n",
        );
        let parts = parse("multipart/mixed; boundary=rb", resp.as_bytes(), 2);
        assert_eq!(parts[0].as_ref().unwrap().status, 200);
        assert_eq!(parts[0].as_ref().unwrap().body["id"], "a");
        assert_eq!(parts[1].as_ref().unwrap().status, 404);
        assert_eq!(
            parts[1].as_ref().unwrap().retry_after,
            Some(std::time::Duration::from_secs(3))
        );
        let parts = parse("multipart/mixed; boundary=rb", b"garbage", 2);
        assert!(parts.iter().all(Option::is_none));
    }
}
