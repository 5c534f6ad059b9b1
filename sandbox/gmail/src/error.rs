//! Google-shaped error bodies: `{"error":{"code","message","errors":[{domain,reason,message}],"status"}}`.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// An API error as Google renders it (boxed: handlers return it often, it should stay small).
#[derive(Debug, Clone)]
pub(crate) struct ApiError(Box<ErrorData>);

impl std::ops::Deref for ApiError {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorData {
        &mut self.0
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ErrorData {
    pub status: StatusCode,
    pub reason: &'static str,
    pub domain: &'static str,
    pub message: String,
    pub extra_headers: Vec<(&'static str, String)>,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        domain: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self(Box::new(ErrorData {
            status,
            reason,
            domain,
            message: message.into(),
            extra_headers: Vec::new(),
            details: None,
        }))
    }

    /// Any status with a reason of domain `global` (Calendar's 410 `deleted` /
    /// `fullSyncRequired`, 403 `forbiddenForNonOrganizer`).
    pub fn with_status(
        status: StatusCode,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(status, "global", reason, message)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "global",
            "notFound",
            "Requested entity was not found.",
        )
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "global",
            "invalidArgument",
            message,
        )
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "global",
            "failedPrecondition",
            message,
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "global", "badRequest", message)
    }

    pub fn unauthenticated() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "global",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
        e.extra_headers.push((
            "www-authenticate",
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"".into(),
        ));
        e
    }

    /// 403 for a token lacking every scope the method accepts; the message names them.
    pub fn insufficient_scope(method_id: &str, accepted: &[String]) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "global",
            "insufficientPermissions",
            format!(
                "Request had insufficient authentication scopes. Method {method_id} requires one of the scopes: {}.",
                accepted.join(", ")
            ),
        );
        e.details = Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "gmail.googleapis.com", "method": method_id}
        }]));
        e
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "global", "duplicate", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "global", "forbidden", message)
    }

    /// Per-user rate limit: 429 (or 403 when `forbidden` is set); the message says when to
    /// retry, the `Retry-After` header only when `header` is set (Google usually sends none).
    pub fn rate_limited(forbidden: bool, retry_after_secs: u64, header: bool) -> Self {
        let (status, reason) = if forbidden {
            (StatusCode::FORBIDDEN, "userRateLimitExceeded")
        } else {
            (StatusCode::TOO_MANY_REQUESTS, "rateLimitExceeded")
        };
        let retry_at = chrono::Utc::now() + chrono::Duration::seconds(retry_after_secs as i64);
        let mut e = Self::new(
            status,
            "usageLimits",
            reason,
            format!(
                "User-rate limit exceeded.  Retry after {}",
                retry_at.format("%Y-%m-%dT%H:%M:%S%.3fZ")
            ),
        );
        if header {
            e.extra_headers
                .push(("retry-after", retry_after_secs.to_string()));
        }
        e
    }

    /// Over the per-user limit of requests in flight (batch parts counted): 429
    /// `rateLimitExceeded` in domain `global` (google-api-dotnet-client#1982).
    pub fn too_many_concurrent(header: bool) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "global",
            "rateLimitExceeded",
            "Too many concurrent requests for user",
        );
        if header {
            e.extra_headers.push(("retry-after", "1".into()));
        }
        e
    }

    /// A plain request body over Gmail's cap (google-api-dotnet-client#856).
    pub fn payload_exceeds(limit: usize) -> Self {
        Self::bad_request(format!(
            "Request payload size exceeds the limit: {limit} bytes."
        ))
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "global",
            "uploadTooLarge",
            format!("Media upload too large. The maximum size is {limit} bytes."),
        )
    }

    pub fn server_error(status: StatusCode) -> Self {
        let (reason, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
            ("backendError", "The service is currently unavailable.")
        } else {
            ("backendError", "Internal error encountered.")
        };
        Self::new(status, "global", reason, message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "global",
            "httpMethodNotAllowed",
            "HTTP method not allowed for this path.",
        )
    }

    fn status_name(&self) -> &'static str {
        match self.status.as_u16() {
            400 if self.reason == "failedPrecondition" => "FAILED_PRECONDITION",
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            405 => "METHOD_NOT_ALLOWED",
            409 => "ALREADY_EXISTS",
            413 => "OUT_OF_RANGE",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        }
    }

    pub fn body(&self) -> Value {
        let mut item =
            json!({"message": self.message, "domain": self.domain, "reason": self.reason});
        if self.reason == "authError" {
            item["location"] = json!("Authorization");
            item["locationType"] = json!("header");
        }
        let mut err = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "errors": [item],
            "status": self.status_name(),
        });
        if let Some(d) = &self.details {
            err["details"] = d.clone();
        }
        json!({ "error": err })
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
