//! HTTP rendering of the core error table: `{"error":{"code","message","details"}}` with the
//! status from `ErrorCode::http_status()`. Internal causes are logged, never rendered.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use connector_core::{ConnectorError, ErrorCode};
use serde_json::json;

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
        builder.json(self.0.to_body())
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
    HttpResponse::NotFound().json(json!({"error": {
        "code": "not_found", "message": message, "details": {}
    }}))
}

/// Gives actix's own 405 answers (a known path, another method) the JSON error body.
pub fn method_not_allowed<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    let (req, _) = res.into_parts();
    let body = json!({"error": {
        "code": "invalid_params",
        "message": format!("{} is not allowed on this path", req.method()),
        "details": {}
    }});
    let res = HttpResponse::MethodNotAllowed().json(body);
    Ok(actix_web::middleware::ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, res).map_into_right_body(),
    ))
}

/// The error body as documented in `/openapi.json`: `{"error": {"code", "message", "details"}}`.
/// (Documentation type; responses are rendered by [`ConnectorError::to_body`].)
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

/// One error: a stable code, a message saying how to fix the call, structured details.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorObject {
    pub code: ErrorCodeName,
    /// For the caller (often an LLM): what went wrong and how to fix the call.
    pub message: String,
    /// Structured data: the failing field (`path`, `field`, `errors`), the provider's code,
    /// missing scopes, `retry_after` seconds. `{}` when there is nothing to add.
    #[schema(value_type = Object)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The `code` of an error body: the core error table (`connector_core::ErrorCode::ALL`), so
/// the documented list is the one the server renders.
#[derive(serde::Serialize)]
pub struct ErrorCodeName(pub ErrorCode);

impl utoipa::PartialSchema for ErrorCodeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let table: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| {
                format!(
                    "- `{}` (HTTP {}): {}",
                    c.as_str(),
                    c.http_status(),
                    c.title()
                )
            })
            .collect();
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(format!(
                "A stable error code; each has one HTTP status:\n\n{}",
                table.join("\n")
            )))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCodeName {
    fn name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }
}
