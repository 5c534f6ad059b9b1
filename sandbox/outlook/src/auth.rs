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
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::json;
use sha2::Digest;

use super::reply::{self, Reply};
use super::state::{resolve_user, Grant, Inner};

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
            expires: None,
        };
        let mut tokens = self.tokens.lock().expect("tokens");
        let ttl = tokens.access_ttl;
        tokens.access.insert(
            token.clone(),
            Grant {
                expires: Some(Instant::now() + ttl),
                ..grant
            },
        );
        token
    }

    pub fn revoke(&self, token: &str) {
        let mut t = self.tokens.lock().expect("tokens");
        t.revoked.insert(token.to_string());
        t.access.remove(token);
    }

    /// Resolves the `Authorization` header to a caller, or a 401 (an unknown token is first
    /// looked up at the introspection URL, when one is configured).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Reply> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .unwrap_or("");
        super::introspect::ensure_known(self, token).await;
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
        if t.rules.is_empty() && self.introspection_url.is_none() {
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
    let mut tokens = inner.tokens.lock().expect("tokens");
    let (grant, presented) = match grant_type {
        "refresh_token" => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            match tokens.refresh.get(&presented).cloned() {
                Some(g) => (g, Some(presented)),
                None => return oauth_error(
                    400,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                ),
            }
        }
        "authorization_code" => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(pending) = tokens.codes.remove(&code) else {
                return oauth_error(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.");
            };
            if pending.expires < Instant::now() {
                return oauth_error(400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity.");
            }
            if form.get("redirect_uri") != Some(&pending.redirect_uri) {
                return oauth_error(
                    400,
                    "invalid_grant",
                    50148,
                    "The redirect_uri does not match the one used in the authorization request.",
                );
            }
            if let Some(challenge) = &pending.code_challenge {
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                let digest = sha2::Sha256::digest(verifier.as_bytes());
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
                if &computed != challenge {
                    return oauth_error(400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.");
                }
            }
            let offline = pending
                .grant
                .scopes
                .as_ref()
                .is_some_and(|s| s.iter().any(|x| x == "offline_access"));
            let grant = pending.grant;
            if offline {
                let rt = random_token("M.R3_BAY.");
                tokens.refresh.insert(rt.clone(), grant.clone());
                (grant, Some(rt))
            } else {
                (grant, None)
            }
        }
        _ => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            )
        }
    };
    let access = random_token("EwB4A8l6BAAU");
    let ttl = tokens.access_ttl;
    tokens.access.insert(
        access.clone(),
        Grant {
            expires: Some(Instant::now() + ttl),
            ..grant.clone()
        },
    );
    let refresh = match (grant_type, presented) {
        ("refresh_token", Some(old)) if tokens.rotate => {
            tokens.refresh.remove(&old);
            let next = random_token("M.R3_BAY.");
            tokens.refresh.insert(next.clone(), grant.clone());
            Some(next)
        }
        (_, other) => other,
    };
    let scope = grant.scopes.clone().unwrap_or_default().join(" ");
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": ttl.as_secs().saturating_sub(1),
        "ext_expires_in": ttl.as_secs().saturating_sub(1),
        "access_token": access,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    Reply::ok(body)
        .header("Cache-Control", "no-store, no-cache")
        .into_response()
}

/// An authorization code waiting for the token endpoint.
#[derive(Debug, Clone)]
pub struct PendingCode {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires: Instant,
}

fn redirect_with(redirect: &str, pairs: &[(&str, &str)]) -> Response {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!("{redirect}{sep}{}", out.finish());
    (
        axum::http::StatusCode::FOUND,
        [(axum::http::header::LOCATION, location)],
    )
        .into_response()
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: consent is given at once (as the default user, or
/// `login_hint` when it names an emulated user) and the browser is sent back with a code.
pub async fn authorize(
    State(inner): State<Arc<Inner>>,
    Path(_tenant): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let Some(redirect) = q.get("redirect_uri").filter(|r| !r.is_empty()).cloned() else {
        return oauth_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'redirect_uri'.",
        );
    };
    if q.get("client_id").is_none_or(|c| c.is_empty()) {
        return oauth_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let with_state = |mut pairs: Vec<(&'static str, String)>| {
        if !state.is_empty() {
            pairs.push(("state", state.clone()));
        }
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        redirect_with(&redirect, &borrowed)
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return with_state(vec![
            ("error", "unsupported_response_type".into()),
            (
                "error_description",
                "AADSTS70005: response_type 'token' is not enabled for the application.".into(),
            ),
        ]);
    }
    let scopes: Vec<String> = q
        .get("scope")
        .map(|s| s.split_whitespace().map(short_scope).collect())
        .unwrap_or_default();
    if scopes.is_empty() {
        return with_state(vec![
            ("error", "invalid_request".into()),
            (
                "error_description",
                "AADSTS900144: The request body must contain the following parameter: 'scope'."
                    .into(),
            ),
        ]);
    }
    let challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) => Some(c.clone()),
        (Some(_), _) => {
            return with_state(vec![
                ("error", "invalid_request".into()),
                (
                    "error_description",
                    "AADSTS501491: Invalid code_challenge_method: only S256 is supported.".into(),
                ),
            ])
        }
        (None, _) => None,
    };
    let user = {
        let all = inner.mailboxes.lock().expect("mailboxes");
        q.get("login_hint")
            .and_then(|h| resolve_user(&all, h))
            .unwrap_or_else(|| inner.default_user.clone())
    };
    let mut tokens = inner.tokens.lock().expect("tokens");
    if tokens.deny_consent {
        return with_state(vec![
            ("error", "access_denied".into()),
            (
                "error_description",
                "AADSTS65004: User declined to consent to access the app.".into(),
            ),
        ]);
    }
    let code = random_token("M.C507_BAY.");
    tokens.codes.insert(
        code.clone(),
        PendingCode {
            grant: Grant {
                user,
                scopes: Some(scopes),
                expires: None,
            },
            redirect_uri: redirect.clone(),
            code_challenge: challenge,
            expires: Instant::now() + Duration::from_secs(600),
        },
    );
    drop(tokens);
    with_state(vec![
        ("code", code),
        ("session_state", uuid::Uuid::new_v4().to_string()),
    ])
}
