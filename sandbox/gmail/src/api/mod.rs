//! Handlers, one module per Gmail resource. Each takes a [`Cx`] (store locked, caller known,
//! scope and quota already checked) and answers JSON or an empty 204.

pub(crate) mod drafts;
pub(crate) mod history;
pub(crate) mod labels;
pub(crate) mod messages;
pub(crate) mod render;
pub(crate) mod settings;
pub(crate) mod threads;
pub(crate) mod upload;

use axum::http::StatusCode;
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::router::{Req, Resp};
use super::store::{Store, User};
use super::Inner;

/// The media of an upload request (`uploadType=multipart|media|resumable`).
pub(crate) struct Upload {
    /// The JSON metadata part (may be empty).
    pub metadata: Value,
    /// The `message/rfc822` bytes.
    pub raw: Bytes,
}

pub(crate) struct Cx<'a> {
    pub store: &'a mut Store,
    pub user: String,
    pub scopes: Option<Vec<String>>,
    pub req: &'a Req,
    pub params: Vec<String>,
    pub upload: Option<Upload>,
    /// The JSON body, checked against the request schema (None: empty or an upload).
    pub body: Option<Value>,
    #[allow(dead_code)]
    pub inner: &'a Inner,
}

pub(crate) enum Reply {
    Json(StatusCode, Value),
    Empty,
    #[allow(dead_code)]
    Raw(Resp),
}

pub(crate) type Handler = fn(&mut Cx<'_>) -> ApiResult<Reply>;

pub(crate) fn ok(v: Value) -> ApiResult<Reply> {
    Ok(Reply::Json(StatusCode::OK, v))
}

impl Cx<'_> {
    pub fn user(&self) -> &User {
        self.store
            .users
            .get(&self.user)
            .expect("router ensures the user")
    }

    pub fn user_mut(&mut self) -> &mut User {
        self.store
            .users
            .get_mut(&self.user)
            .expect("router ensures the user")
    }

    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }

    /// The JSON request body (`{}` when empty).
    pub fn body_json(&self) -> ApiResult<Value> {
        Ok(self
            .body
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default())))
    }

    /// Whether the token only has the metadata scope (no bodies, no `q`).
    pub fn metadata_only(&self) -> bool {
        match &self.scopes {
            None => false,
            Some(s) => {
                let full = [
                    "https://mail.google.com/",
                    "https://www.googleapis.com/auth/gmail.readonly",
                    "https://www.googleapis.com/auth/gmail.modify",
                ];
                !s.iter().any(|x| full.contains(&x.as_str()))
                    && s.iter().any(|x| x.ends_with("gmail.metadata"))
            }
        }
    }

    pub fn bool_q(&self, key: &str) -> ApiResult<bool> {
        match self.req.q(key) {
            None => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(v) => Err(ApiError::invalid_argument(format!(
                "Invalid value for {key}: {v}"
            ))),
        }
    }
}

/// Offset paging: (start, end, next page token).
pub(crate) fn page(
    cx: &Cx<'_>,
    total: usize,
    default_max: usize,
) -> ApiResult<(usize, usize, Option<String>)> {
    let max = match cx.req.q("maxResults") {
        None => default_max,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ApiError::invalid_argument(format!("Invalid value for maxResults: {v}")))?
            .clamp(1, 500),
    };
    let start = match cx.req.q("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => {
            decode_token(t).ok_or_else(|| ApiError::invalid_argument("Invalid pageToken"))?
        }
    };
    let start = start.min(total);
    let end = (start + max).min(total);
    let next = (end < total).then(|| encode_token(end));
    Ok((start, end, next))
}

fn encode_token(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("o{offset:012}"))
        .chars()
        .collect()
}

fn decode_token(t: &str) -> Option<usize> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()?;
    std::str::from_utf8(&b)
        .ok()?
        .strip_prefix('o')?
        .parse()
        .ok()
}

/// Decodes Gmail's base64url `raw` (padding optional; standard alphabet tolerated).
pub(crate) fn decode_raw(s: &str) -> ApiResult<Vec<u8>> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cleaned)
        .map_err(|_| ApiError::invalid_argument("Invalid value for ByteString: raw"))
}

/// Reads `Vec<String>` from a JSON field (missing: empty).
pub(crate) fn str_list(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
