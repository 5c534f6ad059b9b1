//! One error type and one table of stable error codes, shared by every connector and the server.
//!
//! Each row of `error_codes!` names a code, its HTTP status and a one-line title. Core knows
//! nothing of actix: the server maps [`ErrorCode::http_status`] to a response.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal, $status:literal, $title:literal;)*) => {
        /// Stable, snake_case error codes. The string form is part of the public API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable snake_case name of the code.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The one HTTP status this code maps to.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// A short human title.
            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }

            /// Parses the snake_case name.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// The entity name is not one the connector has.
    UnknownEntity => "unknown_entity", 400, "Unknown entity";
    /// The action name is not one the entity has.
    UnknownAction => "unknown_action", 400, "Unknown action";
    /// Params failed validation; `details.errors` lists each failing field by JSON pointer.
    InvalidParams => "invalid_params", 400, "Invalid parameters";
    /// The requested object does not exist (or is not visible to the caller).
    NotFound => "not_found", 404, "Not found";
    /// The credential lacks a scope or permission; `details.missing_scopes` names it when known.
    PermissionDenied => "permission_denied", 403, "Permission denied";
    /// The caller's own credentials (API token, access token) are missing, bad or expired.
    Unauthenticated => "unauthenticated", 401, "Unauthenticated";
    /// The connector's refresh token was revoked or expired: the end user must authorize again.
    NeedsReauth => "needs_reauth", 424, "Re-authorization needed";
    /// The provider throttled the call; `retry_after` says when to come back.
    RateLimited => "rate_limited", 429, "Rate limited";
    /// The provider could not be reached or kept failing with 5xx.
    ProviderUnavailable => "provider_unavailable", 503, "Provider unavailable";
    /// The provider refused the call; its code and message are kept in `details`.
    ProviderError => "provider_error", 502, "Provider error";
    /// A non-idempotent call may or may not have taken effect; check before retrying.
    OutcomeUnknown => "outcome_unknown", 504, "Outcome unknown";
    /// A sync token (Gmail history id, Graph delta token) expired: run a full sync.
    SyncRequired => "sync_required", 410, "Full sync required";
    /// A send waits for a person's approval; `details.approval_id` names it and
    /// `details.preview` shows the exact message.
    ApprovalRequired => "approval_required", 403, "Approval required";
    /// The request or message is larger than allowed.
    PayloadTooLarge => "payload_too_large", 413, "Payload too large";
    /// The request conflicts with current state (idempotency key reuse, duplicate, in progress).
    Conflict => "conflict", 409, "Conflict";
    /// The path exists but not with this HTTP method; the `Allow` header lists its methods.
    MethodNotAllowed => "method_not_allowed", 405, "Method not allowed";
    /// A bug or unexpected failure on our side.
    Internal => "internal", 500, "Internal error";
}

impl ErrorCode {
    /// What the caller (often a model) should do next, for every code: the fix hint that MCP
    /// tool errors carry beside the message.
    pub fn hint(self) -> &'static str {
        match self {
            ErrorCode::UnknownEntity | ErrorCode::UnknownAction => {
                "Use an entity and action from the connector's tool list (or list_actions)."
            }
            ErrorCode::InvalidParams => {
                "Fix the params named in details.errors (JSON pointers) and call again; unknown params are rejected."
            }
            ErrorCode::NotFound => {
                "Check the id: take it from a list or get call of this connector; it may have been deleted."
            }
            ErrorCode::PermissionDenied => {
                "With details.rule, the connector's policy refused the call: details.allowed_by says what would allow it. Otherwise the connector lacks a scope (details.missing_scopes when known): the end user must grant it by authorizing the connector again."
            }
            ErrorCode::ApprovalRequired => {
                "A person must approve this exact message: wait for the decision on details.approval_id, then call again with exactly the same params (it goes out once); do not change it, a changed message needs a new approval."
            }
            ErrorCode::Unauthenticated => {
                "The caller's own credentials are missing, wrong or expired: get a new token and send it again."
            }
            ErrorCode::NeedsReauth => {
                "The end user must authorize this connector again (the refresh token was revoked or expired): start the OAuth flow for it (POST /api/v1/integrations/connectors/oauth/initiate) or give fresh credentials; retrying will not help until then."
            }
            ErrorCode::RateLimited => {
                "Wait details.retry_after seconds, then call again with the same arguments."
            }
            ErrorCode::ProviderUnavailable => {
                "The provider is down or failing: try again later."
            }
            ErrorCode::ProviderError => {
                "The provider refused the call; read details for its code and message and change the call accordingly."
            }
            ErrorCode::OutcomeUnknown => {
                "The action may or may not have happened: look (e.g. list sent mail) before calling again, or call again with the same idempotency_key."
            }
            ErrorCode::SyncRequired => {
                "The sync token expired: run a full sync (call without the token) and continue from the new one."
            }
            ErrorCode::PayloadTooLarge => {
                "Make the request smaller (fewer or smaller attachments, fewer ids)."
            }
            ErrorCode::Conflict => {
                "The request conflicts with current state (see details.reason): use a new idempotency_key for a new request, or retry later."
            }
            ErrorCode::MethodNotAllowed => {
                "Use one of the methods in the Allow header (or details.allow) for this path."
            }
            ErrorCode::Internal => "An internal error: try again later; report it if it persists.",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error every connector call returns.
///
/// `message` is written for the caller (often an LLM) and says how to fix the call; `details`
/// carries structured data (failing fields, provider code, missing scopes). Internal causes go to
/// `source`, which is logged but never rendered into a response.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ConnectorError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Value,
    /// For `rate_limited`: how long the provider asked us to wait.
    pub retry_after: Option<Duration>,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

impl ConnectorError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ConnectorError {
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
            source: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParams, message)
    }

    /// `invalid_params` for one field the schema could not check: `pointer` names it (`/to/0`;
    /// empty for the params as a whole) and `message` says what is wrong.
    pub fn invalid_field(pointer: &str, message: &str) -> Self {
        Self::invalid_params(format!("{}: {message}", pointer.trim_start_matches('/')))
            .with_details(json!({"errors": [{"pointer": pointer, "message": message}]}))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// The body the server renders: `{"error": {"code", "message", "details"}}`.
    /// `details` gains `retry_after` (seconds) for rate limiting.
    pub fn to_body(&self) -> Value {
        let mut details = if self.details.is_null() {
            json!({})
        } else {
            self.details.clone()
        };
        if let (Some(ra), Some(obj)) = (self.retry_after, details.as_object_mut()) {
            obj.insert("retry_after".into(), json!(ra.as_secs_f64().ceil() as u64));
        }
        json!({"error": {"code": self.code.as_str(), "message": self.message, "details": details}})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_a_client_or_server_status() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert!((400..600).contains(&code.http_status()), "{code}");
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
        assert_eq!(ErrorCode::ALL.len(), 17);
        for code in ErrorCode::ALL {
            assert!(code.hint().ends_with('.'), "{code}: {}", code.hint());
        }
    }

    #[test]
    fn body_carries_retry_after_in_seconds() {
        let e = ConnectorError::new(ErrorCode::RateLimited, "slow down")
            .with_retry_after(Some(Duration::from_millis(2500)));
        let b = e.to_body();
        assert_eq!(b["error"]["code"], "rate_limited");
        assert_eq!(b["error"]["details"]["retry_after"], 3);
    }
}
