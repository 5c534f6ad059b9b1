//! Bearer tokens, scopes, and the Microsoft identity platform token endpoint
//! (`/{tenant}/oauth2/v2.0/token`, refresh-token grant, rotation on every refresh).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Form;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::json;

use super::reply::{self, Reply};
use super::state::{resolve_user, Grant, Inner};

const ACCESS_TTL: Duration = Duration::from_secs(3600);

/// Who is calling, with which scopes (`None`: every scope).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub scopes: Option<Vec<String>>,
}

impl Caller {
    /// True when the caller holds any of `needed` (short names like `Mail.Read`).
    pub fn has_any(&self, needed: &[&str]) -> bool {
        match &self.scopes {
            None => true,
            Some(have) => needed
                .iter()
                .any(|n| have.iter().any(|h| h.eq_ignore_ascii_case(n))),
        }
    }
}

/// `https://graph.microsoft.com/Mail.Read` -> `Mail.Read`.
pub fn short_scope(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_string()
}

fn random_token(prefix: &str) -> String {
    let s: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    format!("{prefix}{s}")
}

impl Inner {
    fn canonical_user(&self, user: &str) -> String {
        let all = self.mailboxes.lock().expect("mailboxes");
        resolve_user(&all, user).unwrap_or_else(|| user.to_ascii_lowercase())
    }

    pub fn issue_refresh_token(&self, user: &str, scopes: &[&str]) -> String {
        let token = random_token("M.R3_BAY.");
        let grant = Grant {
            user: self.canonical_user(user),
            scopes: Some(scopes.iter().map(|s| short_scope(s)).collect()),
            expires: None,
        };
        self.tokens
            .lock()
            .expect("tokens")
            .refresh
            .insert(token.clone(), grant);
        token
    }

    pub fn issue_access_token(&self, user: &str, scopes: &[&str]) -> String {
        let token = random_token("EwB4A8l6BAAU");
        let grant = Grant {
            user: self.canonical_user(user),
            scopes: Some(scopes.iter().map(|s| short_scope(s)).collect()),
            expires: Some(Instant::now() + ACCESS_TTL),
        };
        self.tokens
            .lock()
            .expect("tokens")
            .access
            .insert(token.clone(), grant);
        token
    }

    pub fn revoke(&self, token: &str) {
        let mut t = self.tokens.lock().expect("tokens");
        t.revoked.insert(token.to_string());
        t.access.remove(token);
    }

    /// Resolves the `Authorization` header to a caller, or a 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Reply> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .unwrap_or("");
        let result = self.caller_for(token);
        if result.is_err() {
            self.unauthorized.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    fn caller_for(&self, token: &str) -> Result<Caller, Reply> {
        if token.is_empty() {
            return Err(reply::unauthorized("Access token is empty."));
        }
        let t = self.tokens.lock().expect("tokens");
        if t.revoked.contains(token) {
            return Err(reply::unauthorized(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        if let Some(g) = t.access.get(token) {
            if g.expires.is_some_and(|e| e <= Instant::now()) {
                return Err(reply::unauthorized(
                    "Lifetime validation failed, the token is expired.",
                ));
            }
            return Ok(Caller {
                user: g.user.clone(),
                scopes: g.scopes.clone(),
            });
        }
        if t.rules.is_empty() {
            return Ok(Caller {
                user: self.default_user.clone(),
                scopes: None,
            });
        }
        match t.rules.iter().find(|r| r.token == token) {
            Some(rule) => {
                let scopes: Vec<String> = rule.scopes.iter().map(|s| short_scope(s)).collect();
                let all = scopes.is_empty() || scopes.iter().any(|s| s == "*");
                Ok(Caller {
                    user: self.canonical_user(&rule.user),
                    scopes: (!all).then_some(scopes),
                })
            }
            None => Err(reply::unauthorized(
                "IDX14100: JWT is not well formed, there are no dots (.).",
            )),
        }
    }
}

fn oauth_error(status: u16, error: &str, code: u32, description: &str) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ")),
            "error_codes": [code],
            "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": trace,
            "correlation_id": trace,
        }),
    )
    .into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token` with `grant_type=refresh_token`.
pub async fn token_endpoint(
    State(inner): State<Arc<Inner>>,
    Path(_tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    inner.token_requests.fetch_add(1, Ordering::SeqCst);
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
    if form.get("client_id").is_none_or(|c| c.is_empty()) {
        return oauth_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    }
    if grant_type != "refresh_token" {
        return oauth_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    let mut tokens = inner.tokens.lock().expect("tokens");
    let Some(grant) = tokens.refresh.get(&presented).cloned() else {
        return oauth_error(
            400,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        );
    };
    let access = random_token("EwB4A8l6BAAU");
    tokens.access.insert(
        access.clone(),
        Grant {
            expires: Some(Instant::now() + ACCESS_TTL),
            ..grant.clone()
        },
    );
    let refresh = if tokens.rotate {
        tokens.refresh.remove(&presented);
        let next = random_token("M.R3_BAY.");
        tokens.refresh.insert(next.clone(), grant.clone());
        next
    } else {
        presented
    };
    let scope = grant.scopes.clone().unwrap_or_default().join(" ");
    Reply::ok(json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": ACCESS_TTL.as_secs() - 1,
        "ext_expires_in": ACCESS_TTL.as_secs() - 1,
        "access_token": access,
        "refresh_token": refresh,
    }))
    .header("Cache-Control", "no-store, no-cache")
    .into_response()
}
