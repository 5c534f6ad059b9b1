//! Media uploads at `/upload/gmail/v1/users/{userId}/...`: `uploadType=multipart`
//! (`multipart/related`: JSON metadata, then the message), `uploadType=media` (the message
//! alone) and `uploadType=resumable` (a POST with the metadata answers with a `Location`; the
//! bytes are PUT there, in one piece or in `Content-Range` chunks).

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use serde_json::{json, Value};

use super::messages::{INSERT_LIMIT, SEND_LIMIT};
use super::Upload;
use crate::auth::random_token;
use crate::error::ApiError;
use crate::multipart;
use crate::router::{api_call, Req, Resp};
use crate::server::PendingUpload;
use crate::{lock, Inner};

fn limit_for(rest: &str) -> Option<usize> {
    let tail = rest.split_once('/').map(|(_, t)| t)?;
    match tail {
        "messages/send" | "drafts" | "drafts/send" => Some(SEND_LIMIT),
        "messages" | "messages/import" => Some(INSERT_LIMIT),
        t if t.starts_with("drafts/") && !t[7..].contains('/') => Some(SEND_LIMIT),
        _ => None,
    }
}

fn json_meta(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_argument(format!("Invalid JSON payload received. {e}")))
}

pub(crate) fn handle(inner: &Inner, req: &Req, rest: &str) -> Resp {
    match handle_inner(inner, req, rest) {
        Ok(r) => r,
        Err(e) => Resp::error(&e),
    }
}

fn handle_inner(inner: &Inner, req: &Req, rest: &str) -> Result<Resp, ApiError> {
    let limit = limit_for(rest).ok_or_else(ApiError::not_found)?;
    if let Some(id) = req.q("upload_id") {
        return resume(inner, req, rest, id, limit);
    }
    match req.q("uploadType") {
        Some("multipart") => {
            let ct = req.header("content-type").unwrap_or("");
            let b = multipart::boundary(ct).ok_or_else(|| {
                ApiError::bad_request("Content-Type must be multipart/related with a boundary")
            })?;
            let parts = multipart::split(&req.body, &b);
            let (meta, media) = match parts.as_slice() {
                [only] => (json!({}), only.body),
                [meta, media, ..] => (json_meta(meta.body)?, media.body),
                [] => return Err(ApiError::bad_request("Multipart upload has no parts")),
            };
            if media.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            let up = Upload {
                metadata: meta,
                raw: Bytes::copy_from_slice(media),
            };
            Ok(api_call(inner, req, rest, Some(up)))
        }
        Some("media") => {
            if req.body.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            let up = Upload {
                metadata: json!({}),
                raw: req.body.clone(),
            };
            Ok(api_call(inner, req, rest, Some(up)))
        }
        Some("resumable") => start_resumable(inner, req, rest, limit),
        _ => Err(ApiError::bad_request(
            "Invalid uploadType: use multipart, media or resumable",
        )),
    }
}

fn start_resumable(inner: &Inner, req: &Req, rest: &str, limit: usize) -> Result<Resp, ApiError> {
    let authed = req
        .bearer()
        .is_some_and(|t| inner.kit.authenticate(t).is_ok());
    if !authed {
        return Err(ApiError::unauthenticated());
    }
    if let Some(len) = req
        .header("x-upload-content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(ApiError::payload_too_large(limit));
        }
    }
    let metadata = json_meta(&req.body)?;
    let id = random_token("AHVrFx");
    let pending = PendingUpload {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
        metadata: Bytes::from(metadata.to_string()),
        received: Vec::new(),
    };
    lock(&inner.uploads).insert(id.clone(), pending);
    let host = req.header("host").unwrap_or("localhost");
    let location =
        format!("http://{host}/upload/gmail/v1/users/{rest}?uploadType=resumable&upload_id={id}");
    let mut r = Resp::empty(StatusCode::OK);
    r.headers.push(("location".into(), location));
    r.headers.push(("x-guploader-uploadid".into(), id));
    Ok(r)
}

/// `Content-Range: bytes a-b/total` or `bytes */total`.
type ByteRange = Option<(usize, usize)>;

fn content_range(v: &str) -> Option<(ByteRange, Option<usize>)> {
    let spec = v.trim().strip_prefix("bytes")?.trim();
    let (range, total) = spec.split_once('/')?;
    let total = if total == "*" {
        None
    } else {
        Some(total.parse().ok()?)
    };
    let range = if range == "*" {
        None
    } else {
        let (a, b) = range.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    Some((range, total))
}

fn resume(inner: &Inner, req: &Req, rest: &str, id: &str, limit: usize) -> Result<Resp, ApiError> {
    if req.method != Method::PUT && req.method != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let mut uploads = lock(&inner.uploads);
    let pending = uploads.get_mut(id).ok_or_else(ApiError::not_found)?;
    let (range, total) = req
        .header("content-range")
        .and_then(content_range)
        .unwrap_or_default();
    if range.is_none() && req.header("content-range").is_some() {
        // Status query: report what has been received.
        let mut r = Resp::empty(StatusCode::PERMANENT_REDIRECT);
        if !pending.received.is_empty() {
            r.headers.push((
                "range".into(),
                format!("bytes=0-{}", pending.received.len() - 1),
            ));
        }
        return Ok(r);
    }
    if let Some((a, _)) = range {
        if a != pending.received.len() {
            return Err(ApiError::bad_request(
                "Content-Range does not continue the upload",
            ));
        }
    }
    pending.received.extend_from_slice(&req.body);
    if pending.received.len() > limit {
        uploads.remove(id);
        return Err(ApiError::payload_too_large(limit));
    }
    let complete = match total {
        Some(t) => pending.received.len() >= t,
        None => range.is_none(),
    };
    if !complete {
        let mut r = Resp::empty(StatusCode::PERMANENT_REDIRECT);
        r.headers.push((
            "range".into(),
            format!("bytes=0-{}", pending.received.len() - 1),
        ));
        return Ok(r);
    }
    let p = uploads.remove(id).expect("present above");
    drop(uploads);
    let metadata: Value = serde_json::from_slice(&p.metadata).unwrap_or(json!({}));
    let mut headers = p.headers.clone();
    if let Some(a) = req.headers.get("authorization") {
        headers.insert("authorization", a.clone());
    }
    let call = Req {
        method: p.method,
        path: p.path,
        query: p.query,
        headers,
        body: Bytes::new(),
        slots: req.slots,
    };
    Ok(api_call(
        inner,
        &call,
        rest,
        Some(Upload {
            metadata,
            raw: Bytes::from(p.received),
        }),
    ))
}
