//! The error body of every failed call: `{"error": {"code", "message", "details"}}`.
//!
//! The server renders it from core's error table (`connector_core::ConnectorError`); clients
//! decode it with [`crate::decode`] and turn it back into that error ([`ErrorBody::into_error`]).

use connector_core::{ConnectorError, ErrorCode};
use serde::{Deserialize, Serialize};

/// The error body as documented in `/openapi.json`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

/// One error: a stable code, a message saying how to fix the call, structured details.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
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

impl ErrorBody {
    /// The body of a core error (its `retry_after` shown in `details`).
    pub fn of(e: &ConnectorError) -> ErrorBody {
        let mut details = match &e.details {
            serde_json::Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        if let Some(ra) = e.retry_after {
            details.insert(
                "retry_after".into(),
                serde_json::json!(ra.as_secs_f64().ceil() as u64),
            );
        }
        ErrorBody {
            error: ErrorObject {
                code: ErrorCodeName(e.code),
                message: e.message.clone(),
                details,
            },
        }
    }

    /// The core error this body describes (`details.retry_after` becomes `retry_after`).
    pub fn into_error(self) -> ConnectorError {
        let ErrorObject {
            code,
            message,
            details,
        } = self.error;
        let retry_after = details
            .get("retry_after")
            .and_then(serde_json::Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(std::time::Duration::from_secs_f64);
        ConnectorError::new(code.0, message)
            .with_details(serde_json::Value::Object(details))
            .with_retry_after(retry_after)
    }
}

/// The `code` of an error body: the core error table (`connector_core::ErrorCode::ALL`), so
/// the documented list is the one the server renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCodeName(pub ErrorCode);

impl Serialize for ErrorCodeName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCodeName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ErrorCode::parse(&s).map(ErrorCodeName).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown error code `{}`",
                s.chars().take(64).collect::<String>()
            ))
        })
    }
}

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
