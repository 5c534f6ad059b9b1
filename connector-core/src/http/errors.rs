//! Provider error bodies (Google, Microsoft Graph, OAuth) -> [`ConnectorError`].

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};

use crate::{ConnectorError, ErrorCode};

/// What a provider said in an error body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderErrorInfo {
    pub status: u16,
    /// Graph `error.code` (`ErrorItemNotFound`), Google `error.status` (`PERMISSION_DENIED`),
    /// OAuth `error` (`invalid_grant`).
    pub code: Option<String>,
    /// Google `error.errors[0].reason` (`rateLimitExceeded`).
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl ProviderErrorInfo {
    /// Parses Google's `{"error":{"code","message","errors":[{"reason"}],"status"}}`, Graph's
    /// `{"error":{"code","message","innerError"}}` and OAuth's `{"error","error_description"}`.
    pub fn parse(status: u16, body: &[u8]) -> ProviderErrorInfo {
        let mut info = ProviderErrorInfo {
            status,
            ..Default::default()
        };
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            let text = String::from_utf8_lossy(body).trim().to_string();
            if !text.is_empty() {
                info.message = Some(text.chars().take(300).collect());
            }
            return info;
        };
        let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        match v.get("error") {
            Some(Value::Object(err)) => {
                info.message = str_of(err.get("message"));
                info.code = str_of(err.get("status")).or_else(|| str_of(err.get("code")));
                info.reason = err
                    .get("errors")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|e| str_of(e.get("reason")))
                    .or_else(|| {
                        err.get("details")
                            .and_then(Value::as_array)
                            .and_then(|d| d.iter().find_map(|d| str_of(d.get("reason"))))
                    });
            }
            Some(Value::String(code)) => {
                info.code = Some(code.clone());
                info.message = str_of(v.get("error_description"));
            }
            _ => {}
        }
        info
    }

    fn details(&self) -> Map<String, Value> {
        let mut d = Map::new();
        d.insert("provider_status".into(), json!(self.status));
        if let Some(c) = &self.code {
            d.insert("provider_code".into(), json!(c));
        }
        if let Some(r) = &self.reason {
            d.insert("provider_reason".into(), json!(r));
        }
        if let Some(m) = &self.message {
            d.insert("provider_message".into(), json!(m));
        }
        d
    }

    fn said(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.code {
            parts.push(c.clone());
        }
        if let Some(r) = self
            .reason
            .as_ref()
            .filter(|r| Some(*r) != self.code.as_ref())
        {
            parts.push(r.clone());
        }
        let head = if parts.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {} {}", self.status, parts.join("/"))
        };
        match &self.message {
            Some(m) => format!("{head}: {m}"),
            None => head,
        }
    }

    /// Google's 403 `rateLimitExceeded` / `userRateLimitExceeded` (and Graph's throttling codes).
    pub fn is_rate_limit(&self) -> bool {
        if self.status == 429 {
            return true;
        }
        let rl = |s: &Option<String>| {
            matches!(
                s.as_deref(),
                Some("rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED")
            )
        };
        self.status == 403 && (rl(&self.reason) || rl(&self.code))
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The wait a throttle message names when no `Retry-After` header came: Google usually sends
/// none and says "User-rate limit exceeded.  Retry after 2026-12-06T07:20:19.301Z" instead.
pub fn retry_after_in_message(message: &str) -> Option<Duration> {
    let (_, rest) = message.split_once("Retry after ")?;
    let stamp = rest.split_whitespace().next()?;
    let at = chrono::DateTime::parse_from_rfc3339(stamp).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(
        wait.to_std()
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(86_400)),
    )
}

/// Scopes named in a provider message (`https://www.googleapis.com/auth/...`, Graph `Mail.Read`).
fn scopes_in(message: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in message
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '\'' | '"' | '(' | ')' | '[' | ']'))
    {
        let w = word.trim_end_matches(['.', ';', ':']);
        let google =
            w.starts_with("https://www.googleapis.com/auth/") || w == "https://mail.google.com/";
        let graph = {
            let mut it = w.split('.');
            matches!(
                (it.next(), it.next()),
                (
                    Some("Mail" | "MailboxSettings" | "User" | "Calendars" | "Contacts"),
                    Some(_)
                )
            )
        };
        if (google || graph) && !out.iter().any(|s| s == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// Maps a non-2xx provider answer to the error table.
pub fn error_from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> ConnectorError {
    let info = ProviderErrorInfo::parse(status, body);
    let retry_after = parse_retry_after(headers).or_else(|| {
        info.is_rate_limit()
            .then(|| info.message.as_deref().and_then(retry_after_in_message))
            .flatten()
    });
    let mut details = info.details();
    let said = info.said();
    let (code, message) = match status {
        _ if info.is_rate_limit() => (
            ErrorCode::RateLimited,
            format!(
                "the provider is throttling requests ({said}); wait {} and try again, or make fewer calls",
                retry_after
                    .map(|d| format!("{} seconds", d.as_secs_f64().ceil() as u64))
                    .unwrap_or_else(|| "a little".into())
            ),
        ),
        // A 400 is the provider refusing what it was asked (a bad id, page token or query):
        // the caller's to fix, so a 4xx that retry middleware leaves alone (issue 19); the
        // provider's own words stay in `details`.
        400 => (
            ErrorCode::InvalidParams,
            format!("the provider refused the request's params ({said}); fix the params it names and call again"),
        ),
        401 => (
            ErrorCode::Unauthenticated,
            format!("the provider rejected the access token ({said}); provide valid credentials"),
        ),
        403 => {
            let scopes = info.message.as_deref().map(scopes_in).unwrap_or_default();
            let msg = if scopes.is_empty() {
                format!("the credential is not allowed to do this ({said}); grant the connector the scopes this action needs and authorize again")
            } else {
                details.insert("missing_scopes".into(), json!(scopes));
                // The fix first: a provider's list of scopes can be long, and a shortened
                // message must still say what to do.
                format!(
                    "the credential lacks a required scope: authorize again (re-consent) granting one of {} ({said})",
                    scopes.join(", ")
                )
            };
            (ErrorCode::PermissionDenied, msg)
        }
        404 => (
            ErrorCode::NotFound,
            format!("not found ({said}); check the id, or list the records to find a valid one"),
        ),
        409 => (
            ErrorCode::Conflict,
            format!("the request conflicts with the current state ({said}); re-read the record and try again"),
        ),
        410 => (
            ErrorCode::SyncRequired,
            format!("the sync state expired ({said}); run a full sync and start over"),
        ),
        413 => (
            ErrorCode::PayloadTooLarge,
            format!("the request is too large for the provider ({said}); send less data"),
        ),
        // URL or headers too long: caused by the params (a long query, many ids), not by load.
        414 | 431 => (
            ErrorCode::PayloadTooLarge,
            format!("the request's URL or headers are too long for the provider ({said}); shorten the params that go into the URL, such as a search query or a list of ids"),
        ),
        500..=599 => (
            ErrorCode::ProviderUnavailable,
            format!("the provider failed ({said}); try again later"),
        ),
        _ => (
            ErrorCode::ProviderError,
            format!("the provider refused the request ({said})"),
        ),
    };
    ConnectorError::new(code, message)
        .with_details(Value::Object(details))
        .with_retry_after(retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: Value) -> ConnectorError {
        error_from_response(status, &HeaderMap::new(), body.to_string().as_bytes())
    }

    #[test]
    fn google_body_keeps_code_reason_message() {
        let e = map(
            404,
            json!({"error": {"code": 404, "message": "Requested entity was not found.",
                "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}],
                "status": "NOT_FOUND"}}),
        );
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.details["provider_status"], 404);
        assert_eq!(e.details["provider_code"], "NOT_FOUND");
        assert_eq!(e.details["provider_reason"], "notFound");
        assert_eq!(
            e.details["provider_message"],
            "Requested entity was not found."
        );
    }

    #[test]
    fn graph_body_keeps_code_and_message() {
        let e = map(
            409,
            json!({"error": {"code": "ErrorIrresolvableConflict", "message": "The change key passed in the request does not match",
                "innerError": {"request-id": "x", "date": "2024-01-01T00:00:00"}}}),
        );
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(e.details["provider_code"], "ErrorIrresolvableConflict");
        assert!(e.details.get("provider_reason").is_none());
    }

    #[test]
    fn gmail_403_rate_limit_is_rate_limited() {
        for reason in ["rateLimitExceeded", "userRateLimitExceeded"] {
            let e = map(
                403,
                json!({"error": {"code": 403, "message": "Rate Limit Exceeded",
                    "errors": [{"reason": reason}], "status": "PERMISSION_DENIED"}}),
            );
            assert_eq!(e.code, ErrorCode::RateLimited, "{reason}");
        }
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let e = map(
            403,
            json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes. Requires https://www.googleapis.com/auth/gmail.send.",
                "errors": [{"reason": "insufficientPermissions"}], "status": "PERMISSION_DENIED"}}),
        );
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        assert_eq!(
            e.details["missing_scopes"],
            json!(["https://www.googleapis.com/auth/gmail.send"])
        );
        assert!(e.message.contains("gmail.send"));
        let plain = map(
            403,
            json!({"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}),
        );
        assert_eq!(plain.code, ErrorCode::PermissionDenied);
        assert!(plain.details.get("missing_scopes").is_none());
    }

    #[test]
    fn status_table() {
        let cases = [
            (401, ErrorCode::Unauthenticated),
            (400, ErrorCode::InvalidParams),
            (410, ErrorCode::SyncRequired),
            (413, ErrorCode::PayloadTooLarge),
            (414, ErrorCode::PayloadTooLarge),
            (431, ErrorCode::PayloadTooLarge),
            (429, ErrorCode::RateLimited),
            (500, ErrorCode::ProviderUnavailable),
            (503, ErrorCode::ProviderUnavailable),
            (422, ErrorCode::ProviderError),
        ];
        for (status, code) in cases {
            assert_eq!(map(status, json!({})).code, code, "{status}");
        }
        let text = error_from_response(502, &HeaderMap::new(), b"<html>bad gateway</html>");
        assert_eq!(text.details["provider_message"], "<html>bad gateway</html>");
    }

    #[test]
    fn oauth_error_body() {
        let e = map(
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        );
        assert_eq!(e.details["provider_code"], "invalid_grant");
    }

    #[test]
    fn a_throttle_without_retry_after_waits_for_the_time_its_message_names() {
        let at = chrono::Utc::now() + chrono::Duration::seconds(20);
        let body = json!({"error": {"code": 429, "message": format!("User-rate limit exceeded.  Retry after {}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
            "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}], "status": "RESOURCE_EXHAUSTED"}});
        let err = error_from_response(429, &HeaderMap::new(), body.to_string().as_bytes());
        let wait = err.retry_after.expect("a wait from the message");
        assert!(
            wait > Duration::from_secs(18) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(
            retry_after_in_message("Too many concurrent requests for user"),
            None
        );
        assert_eq!(retry_after_in_message("Retry after soon"), None);
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        let at = SystemTime::now() + Duration::from_secs(30);
        h.insert("retry-after", httpdate::fmt_http_date(at).parse().unwrap());
        let d = parse_retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }
}
