//! The batch endpoint (`/batch/gmail/v1` and `/batch`): a `multipart/mixed` body of
//! `application/http` requests, answered part by part with `Content-ID: response-<id>`.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use bytes::Bytes;

use super::error::ApiError;
use super::router::{api_call, Req, Resp};
use super::{lock, multipart, Inner};

/// Google's limit on calls per batch request.
pub(crate) const MAX_PARTS: usize = 100;

/// The parts of a batch request (0 when it is not a well-formed batch), at most
/// [`MAX_PARTS`]: what it takes of the user's concurrency while it runs.
pub(crate) fn part_count(req: &Req) -> usize {
    let ct = req.header("content-type").unwrap_or("");
    match multipart::boundary(ct) {
        Some(b) => multipart::split(&req.body, &b).len().min(MAX_PARTS),
        None => 0,
    }
}

pub(crate) fn handle(inner: &Inner, req: &Req) -> Resp {
    lock(&inner.stats).batch_requests += 1;
    let ct = req.header("content-type").unwrap_or("");
    let Some(boundary) =
        multipart::boundary(ct).filter(|_| ct.to_ascii_lowercase().starts_with("multipart/"))
    else {
        return Resp::error(&ApiError::bad_request(
            "Batch requests must be multipart/mixed with a boundary",
        ));
    };
    let parts = multipart::split(&req.body, &boundary);
    if parts.is_empty() {
        return Resp::error(&ApiError::bad_request("Batch request contains no parts"));
    }
    if parts.len() > MAX_PARTS {
        return Resp::error(&ApiError::bad_request(format!(
            "Too many requests in batch: {} (at most {MAX_PARTS} allowed)",
            parts.len()
        )));
    }
    lock(&inner.stats).batch_parts += parts.len() as u64;
    let out_boundary = format!("batch_{}", super::auth::random_token(""));
    let mut body = Vec::new();
    // The parts run in parallel at Google, each a request in flight: those beyond the slots
    // the batch got (`server::entry`) are over the user's concurrency limit.
    let slots = req.slots.unwrap_or(usize::MAX);
    for (i, part) in parts.iter().enumerate() {
        let cid = part.header("content-id").map(|c| {
            let bare = c.trim().trim_start_matches('<').trim_end_matches('>');
            if c.trim().starts_with('<') {
                format!("<response-{bare}>")
            } else {
                format!("response-{bare}")
            }
        });
        let resp = match parse_inner(part.body, &req.headers) {
            Some(mut inner_req) => {
                inner_req.slots = Some(usize::from(i < slots));
                run_part(inner, &inner_req)
            }
            None => Resp::error(&ApiError::bad_request("Failed to parse batch request part")),
        };
        body.extend_from_slice(
            format!("--{out_boundary}\r\nContent-Type: application/http\r\n").as_bytes(),
        );
        if let Some(cid) = cid {
            body.extend_from_slice(format!("Content-ID: {cid}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        let reason = resp.status.canonical_reason().unwrap_or("");
        body.extend_from_slice(
            format!("HTTP/1.1 {} {reason}\r\n", resp.status.as_u16()).as_bytes(),
        );
        for (k, v) in &resp.headers {
            body.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        body.extend_from_slice(format!("Content-Length: {}\r\n\r\n", resp.body.len()).as_bytes());
        body.extend_from_slice(&resp.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{out_boundary}--\r\n").as_bytes());
    Resp {
        status: StatusCode::OK,
        headers: vec![(
            "content-type".into(),
            format!("multipart/mixed; boundary={out_boundary}"),
        )],
        body: Bytes::from(body),
    }
}

fn run_part(inner: &Inner, req: &Req) -> Resp {
    match req.path.strip_prefix("/gmail/v1/users/") {
        Some(rest) => api_call(inner, req, rest, None),
        None => Resp::error(&ApiError::not_found()),
    }
}

/// Parses one `application/http` part: request line, headers, body. The outer request's
/// Authorization applies unless the part has its own.
fn parse_inner(data: &[u8], outer: &HeaderMap) -> Option<Req> {
    let has_blank =
        data.windows(4).any(|w| w == b"\r\n\r\n") || data.windows(2).any(|w| w == b"\n\n");
    let owned;
    let data = if has_blank {
        data
    } else {
        owned = [data, b"\r\n\r\n".as_slice()].concat();
        owned.as_slice()
    };
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut storage);
    let status = parsed.parse(data).ok()?;
    let (head_len, complete) = match status {
        httparse::Status::Complete(n) => (n, true),
        httparse::Status::Partial => (data.len(), false),
    };
    let method = Method::from_bytes(parsed.method?.as_bytes()).ok()?;
    let target = parsed.path?;
    let target = match target.find("://") {
        Some(i) => target[i + 3..]
            .find('/')
            .map(|j| &target[i + 3 + j..])
            .unwrap_or("/"),
        None => target,
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut headers = HeaderMap::new();
    for h in parsed.headers.iter() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            headers.append(n, v);
        }
    }
    if !headers.contains_key("authorization") {
        if let Some(a) = outer.get("authorization") {
            headers.insert("authorization", a.clone());
        }
    }
    let body = if complete {
        Bytes::copy_from_slice(&data[head_len..])
    } else {
        Bytes::new()
    };
    Some(Req::new(method, path, query, headers, body))
}
