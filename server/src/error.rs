//! HTTP rendering of the core error table: `{"error":{"code","message","details"}}` with the
//! status from `ErrorCode::http_status()`. Internal causes are logged, never rendered.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use connector_core::{ConnectorError, ErrorCode};

pub use api_types::ErrorBody;

/// The error every handler returns.
#[derive(Debug)]
pub struct ApiError(pub Box<ConnectorError>);

pub type ApiResult<T> = Result<T, ApiError>;

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl From<ConnectorError> for ApiError {
    /// Bounds the message and details here, so that every later use (the response, the
    /// request log's `Debug` of the error) quotes at most a short excerpt of the input.
    fn from(mut e: ConnectorError) -> Self {
        e.message = bounded_message(&e.message);
        bounded_value(&mut e.details, 0);
        ApiError(Box::new(e))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::from(db(e))
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::from(ConnectorError::new(code, message))
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParams, message)
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::from(internal(cause))
    }
    pub fn connector_not_found() -> Self {
        Self::not_found("no connector with this id in your organization")
    }
}

/// A domain failure whose cause must not reach the caller: the cause is logged here, the
/// caller sees `internal`.
pub fn internal(cause: impl std::fmt::Display) -> ConnectorError {
    tracing::error!(cause = %cause, "internal error");
    ConnectorError::new(ErrorCode::Internal, "internal error; try again later")
}

/// A database failure as a domain error (the cause is kept as the source, logged at the edge).
pub fn db(e: sqlx::Error) -> ConnectorError {
    ConnectorError::internal("the database failed; try again").with_source(e)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.0.source {
            tracing::warn!(code = %self.0.code, cause = %excerpt(&source.to_string(), MAX_LOGGED_CAUSE), "request failed");
        }
        let mut builder = HttpResponse::build(self.status_code());
        if let Some(ra) = self.0.retry_after {
            builder.insert_header(("Retry-After", ra.as_secs().max(1).to_string()));
        }
        builder.json(bounded(ErrorBody::of(&self.0)))
    }
}

/// Longest error message a response carries (characters).
pub const MAX_MESSAGE: usize = 1000;
/// Longest string inside `details` (characters).
pub const MAX_DETAIL: usize = 160;
/// Longest quoted piece of the caller's input inside a message (characters).
pub const MAX_QUOTE: usize = 64;
const MAX_LOGGED_CAUSE: usize = 500;

/// At most `max` characters of `s`, control characters escaped, `…` where it was cut.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A message with every quoted piece (between `` ` `` or `"`) cut to [`MAX_QUOTE`] and the
/// whole to [`MAX_MESSAGE`]: a message may quote the caller's input, never much of it.
pub fn bounded_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE + 8));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open] as char;
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        match rest.find(quote) {
            Some(close) => {
                out.push_str(&excerpt(&rest[..close], MAX_QUOTE));
                out.push(quote);
                rest = &rest[close + 1..];
            }
            None => {
                out.push_str(&excerpt(rest, MAX_QUOTE));
                rest = "";
            }
        }
        if out.len() > MAX_MESSAGE * 4 {
            break;
        }
    }
    out.push_str(rest);
    excerpt(&out, MAX_MESSAGE)
}

fn bounded_value(v: &mut serde_json::Value, depth: usize) {
    match v {
        serde_json::Value::String(s) if s.chars().count() > MAX_DETAIL => {
            *s = excerpt(s, MAX_DETAIL)
        }
        serde_json::Value::Array(a) => {
            a.truncate(50);
            a.iter_mut().for_each(|x| bounded_value(x, depth + 1));
        }
        serde_json::Value::Object(m) if depth < 6 => {
            m.values_mut().for_each(|x| bounded_value(x, depth + 1))
        }
        serde_json::Value::Object(m) => m.clear(),
        _ => {}
    }
}

/// The error body of `e` as responses carry it: message and details bounded.
pub fn error_body(e: &ConnectorError) -> ErrorBody {
    bounded(ErrorBody::of(e))
}

/// The body with its message and details bounded (see [`bounded_message`]).
fn bounded(mut body: ErrorBody) -> ErrorBody {
    body.error.message = bounded_message(&body.error.message);
    for v in body.error.details.values_mut() {
        bounded_value(v, 0);
    }
    body
}

/// Renders an unmatched route: a documented path asked with another method is a 405
/// `method_not_allowed` whose `Allow` header lists the path's methods (from the OpenAPI
/// document, so the two cannot disagree); anything else is a 404 `not_found`.
pub async fn not_found_route(req: actix_web::HttpRequest) -> HttpResponse {
    unmatched(&req)
}

fn unmatched(req: &actix_web::HttpRequest) -> HttpResponse {
    match crate::openapi::allowed_methods(req.path()) {
        Some(methods) => {
            let allow = methods.join(", ");
            HttpResponse::MethodNotAllowed()
                .insert_header((actix_web::http::header::ALLOW, allow.clone()))
                .json(error_body(
                    &ConnectorError::new(
                        ErrorCode::MethodNotAllowed,
                        format!(
                            "{} is not allowed on this path; its methods are {allow}",
                            excerpt(req.method().as_str(), 16)
                        ),
                    )
                    .with_details(serde_json::json!({"allow": methods})),
                ))
        }
        None => HttpResponse::NotFound().json(error_body(&ConnectorError::not_found(
            "no such route: /openapi.json lists every path",
        ))),
    }
}

/// Gives actix's own 405 answers (a known path, another method) the same answer as
/// [`not_found_route`].
pub fn method_not_allowed<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    let (req, _) = res.into_parts();
    let res = unmatched(&req);
    Ok(actix_web::middleware::ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, res).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_quotes_at_most_a_short_escaped_excerpt_of_the_input() {
        let long = "x".repeat(1_000_000);
        let m = bounded_message(&format!("unknown entity `{long}`; use one of `labels`"));
        assert!(m.len() < 200, "{}", m.len());
        assert!(m.starts_with("unknown entity `xxxx"));
        assert!(m.ends_with("; use one of `labels`"), "{m}");
        let m = bounded_message("invalid type: string \"a\nb\", expected u32");
        assert_eq!(m, "invalid type: string \"a\\nb\", expected u32");
        assert!(bounded_message(&long).chars().count() <= MAX_MESSAGE + 1);
    }
}
