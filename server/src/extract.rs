//! Request body and query extractors whose errors name the failing field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use connector_core::ErrorCode;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::ApiError;

/// The body size limit of a route (`app_data`); 1 MiB when not set.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body decoded with `serde_path_to_error`: a malformed body or a wrong/unknown field
/// is a 400 `invalid_params` naming the JSON path; a body over the limit is a 413
/// `payload_too_large`. Strict: `Content-Type: application/json` is required, the body must be
/// one JSON object with nothing after it, and it must arrive within the body timeout
/// ([`crate::limits::Limits::body_timeout`]).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        Self::from_request_with_limit(req, payload, route_limit(req))
    }
}

impl<T: DeserializeOwned + 'static> ApiJson<T> {
    /// Reads and decodes the body, refusing more than `limit` bytes.
    pub fn from_request_with_limit(
        req: &HttpRequest,
        payload: &mut Payload,
        limit: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Self, ApiError>>>> {
        let json = is_json(req);
        let body = read_body(req, payload, limit);
        Box::pin(async move {
            if !json {
                return Err(ApiError::from(
                    connector_core::ConnectorError::invalid_params(
                        "send the body as JSON with `Content-Type: application/json`",
                    )
                    .with_details(json!({"header": "Content-Type"})),
                ));
            }
            decode(&body.await?).map(ApiJson)
        })
    }
}

/// The route's body limit: its [`BodyLimit`], else the server's `max_body`, else 1 MiB.
fn route_limit(req: &HttpRequest) -> usize {
    req.app_data::<BodyLimit>()
        .map(|l| l.0)
        .or_else(|| {
            req.app_data::<web::Data<crate::AppState>>()
                .map(|s| s.config.limits.max_body)
        })
        .unwrap_or(DEFAULT_BODY_LIMIT)
}

/// The body's bytes, at most `limit` (a 413 `payload_too_large` naming the limit otherwise),
/// arriving within the body timeout.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Pin<Box<dyn Future<Output = Result<web::BytesMut, ApiError>>>> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let timeout = req
        .app_data::<web::Data<crate::AppState>>()
        .map(|s| s.config.limits.body_timeout)
        .unwrap_or(crate::limits::Limits::default().body_timeout);
    let mut payload = payload.take();
    Box::pin(async move {
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        let read = async {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::invalid("the request body could not be read").with_cause(e)
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        tokio::time::timeout(timeout, read).await.map_err(|_| {
            ApiError::invalid(format!(
                "the request body did not arrive within {} seconds",
                timeout.as_secs_f64()
            ))
        })?
    })
}

/// A body of any type as bytes, within the route's limit and the body timeout, with the
/// API's JSON errors (413 `payload_too_large`, 400) instead of actix's plain-text ones: for
/// routes whose callers are not API clients (the providers' push endpoints).
#[derive(Debug)]
pub struct RawBody(pub web::BytesMut);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload, route_limit(req));
        Box::pin(async move { body.await.map(RawBody) })
    }
}

impl ApiError {
    fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(cause));
        self
    }
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::from(
        connector_core::ConnectorError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
        .with_details(json!({"limit_bytes": limit})),
    )
}

/// `Content-Type: application/json` (any parameters), or a `+json` type.
pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .is_some_and(|t| {
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        })
}

/// Decodes one JSON object, naming the path of the first error; nothing may follow it.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::from(
            connector_core::ConnectorError::invalid_params(
                "the request body must be a JSON object",
            )
            .with_details(json!({ "path": "." })),
        ));
    }
    // The plain decoder first: a body that decodes is decoded alike either way, and the
    // path-tracking one below (which names the failing field) costs a few thousand
    // instructions more per request on the execute hot path (issue 27).
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = decode_from(&mut *de)?;
    de.end().map_err(|_| {
        ApiError::from(
            connector_core::ConnectorError::invalid_params(
                "the request body must be one JSON object with nothing after it",
            )
            .with_details(json!({ "path": "." })),
        )
    })?;
    Ok(value)
}

fn decode_from<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("the request body is not valid JSON: {inner}")
        } else if path == "." {
            format!("invalid request body: {inner}")
        } else {
            format!("invalid request body at `{path}`: {inner}")
        };
        let mut details = json!({ "path": path });
        if let Some(field) = unknown_field(&inner.to_string()) {
            details["field"] = json!(field);
        }
        ApiError::from(
            connector_core::ConnectorError::invalid_params(message).with_details(details),
        )
    })
}

/// `unknown field `x`, expected ...` -> `x`; `missing field `y`` -> `y`.
fn unknown_field(message: &str) -> Option<String> {
    for prefix in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// Query-string extractor config: a bad query is a 400 naming the problem.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::invalid(format!("invalid query string: {err}")).into())
}

/// Form extractor config (the signed approval link's page posts a form): a body that is not
/// `application/x-www-form-urlencoded`, or does not decode, is a 400 naming the problem, like a
/// JSON body.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default().error_handler(|err, _req| {
        let message = match err {
            actix_web::error::UrlencodedError::ContentType => {
                "send the form with `Content-Type: application/x-www-form-urlencoded`".to_string()
            }
            other => format!("invalid form: {other}"),
        };
        ApiError::invalid(message).into()
    })
}

/// Path extractor config: a malformed id is a 404 (the object does not exist).
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| ApiError::not_found("not found").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn errors_name_the_path_and_field() {
        let e = decode::<Outer>(br#"{"inner":{"count":"x"}}"#).unwrap_err();
        assert_eq!(e.0.details["path"], "inner.count");
        let e = decode::<Outer>(br#"{"inner":{"count":1,"extra":2}}"#).unwrap_err();
        assert_eq!(e.0.details["field"], "extra");
        assert!(e.0.message.contains("extra"), "{}", e.0.message);
        let e = decode::<Outer>(b"{nope").unwrap_err();
        assert!(e.0.message.contains("not valid JSON"));
    }

    #[test]
    fn a_body_is_one_object_with_nothing_after_it() {
        decode::<Outer>(br#" {"inner":{"count":1}} "#).unwrap();
        let e = decode::<Outer>(br#"[{"count":1}]"#).unwrap_err();
        assert!(e.0.message.contains("JSON object"), "{}", e.0.message);
        let e = decode::<Outer>(br#"{"inner":{"count":1}} trailing"#).unwrap_err();
        assert!(e.0.message.contains("nothing after it"), "{}", e.0.message);
        let e = decode::<Outer>(br#"{"inner":{"count":1}}{}"#).unwrap_err();
        assert!(e.0.message.contains("nothing after it"), "{}", e.0.message);
    }
}
