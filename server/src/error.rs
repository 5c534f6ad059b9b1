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
    fn from(e: ConnectorError) -> Self {
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
            tracing::warn!(code = %self.0.code, cause = %source, "request failed");
        }
        let mut builder = HttpResponse::build(self.status_code());
        if let Some(ra) = self.0.retry_after {
            builder.insert_header(("Retry-After", ra.as_secs().max(1).to_string()));
        }
        builder.json(ErrorBody::of(&self.0))
    }
}

/// Renders an unmatched route as a JSON 404. A known path asked with a method it does not
/// serve ends here too (actix hands method mismatches to the app's default service): the
/// message says so, names the path's pattern and where its methods are listed, so a caller
/// does not go looking for a missing resource.
pub async fn not_found_route(req: actix_web::HttpRequest) -> HttpResponse {
    let message = match req.resource_map().match_pattern(req.path()) {
        Some(pattern) => format!(
            "{} is not served on {pattern}: /openapi.json lists the methods of every path",
            req.method()
        ),
        None => "no such route".to_string(),
    };
    HttpResponse::NotFound().json(ErrorBody::of(&ConnectorError::not_found(message)))
}

/// Gives actix's own 405 answers (a known path, another method) the JSON error body.
pub fn method_not_allowed<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    let (req, _) = res.into_parts();
    let body = ErrorBody::of(&ConnectorError::invalid_params(format!(
        "{} is not allowed on this path",
        req.method()
    )));
    let res = HttpResponse::MethodNotAllowed().json(body);
    Ok(actix_web::middleware::ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, res).map_into_right_body(),
    ))
}
