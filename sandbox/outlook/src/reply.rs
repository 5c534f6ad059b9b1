//! What the emulator answers: a status, a few headers and a JSON (or raw) body, and Graph's
//! error bodies (`{"error":{"code","message","innerError":{"request-id","date"}}}`).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

/// One answer of the emulated Graph API (also used for the parts of a `$batch`).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
}

#[derive(Debug, Clone)]
pub enum ReplyBody {
    Empty,
    Json(Value),
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Json(body),
        }
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            headers: Vec::new(),
            body: ReplyBody::Empty,
        }
    }

    pub fn accepted() -> Reply {
        Reply {
            status: 202,
            headers: Vec::new(),
            body: ReplyBody::Empty,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body_json(&self) -> Value {
        match &self.body {
            ReplyBody::Json(v) => v.clone(),
            ReplyBody::Empty => Value::Null,
        }
    }
}

/// A Graph error answer.
pub fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "error": {
            "code": code,
            "message": message.into(),
            "innerError": {
                "date": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    });
    Reply::json(status, body).header("request-id", request_id)
}

pub fn not_found(what: &str) -> Reply {
    error(
        404,
        "ErrorItemNotFound",
        format!("The specified object was not found in the store. ({what})"),
    )
}

pub fn bad_query(message: impl Into<String>) -> Reply {
    error(400, "BadRequest", message)
}

pub fn unauthorized(message: &str) -> Reply {
    error(401, "InvalidAuthenticationToken", message).header(
        "WWW-Authenticate",
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"",
    )
}

pub fn access_denied() -> Reply {
    error(
        403,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )
}

pub fn throttled(reason: &str, retry_after_secs: u64) -> Reply {
    error(
        429,
        "ApplicationThrottled",
        format!("Application is over its {reason} limit."),
    )
    .header("Retry-After", retry_after_secs.to_string())
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match self.body {
            ReplyBody::Json(v) => (status, axum::Json(v)).into_response(),
            ReplyBody::Empty => status.into_response(),
        };
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                response.headers_mut().insert(n, v);
            }
        }
        response
    }
}
