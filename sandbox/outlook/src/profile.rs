//! Microsoft's facts, given to the kit: token shapes and prefixes, scope naming, the identity
//! platform's token endpoint and consent answers (AADSTS errors), and Graph's error body for an
//! injected fault.

use std::collections::HashMap;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use sandbox_kit::{
    AuthorizeError, AuthorizeFailure, ConsentScreen, Issued, Profile, QuotaRules, TokenFailure,
};
use serde_json::{json, Value};

use crate::auth::short_scope;
use crate::reply::{self, Reply};

pub(crate) static MICROSOFT: Profile = Profile {
    name: "outlook",
    access_token_prefix: "EwB4A8l6BAAU",
    refresh_token_prefix: "M.R3_BAY.",
    code_prefix: "M.C507_BAY.",
    access_ttl: Duration::from_secs(3600),
    // 10,000 requests per mailbox in 10 minutes, 4 at once.
    quota: QuotaRules {
        units: 10_000,
        window: Duration::from_secs(600),
        max_concurrent: Some(4),
    },
    rotates_refresh_tokens: true,
    // Graph's time per request, also spent on each `$batch` part (see `graph::entry`).
    latency_per_request: false,
    normalize_scope: short_scope,
    user_claims: &["email", "upn", "preferred_username", "username", "sub"],
    wants_refresh_token,
    token_body,
    token_headers: &[("cache-control", "no-store, no-cache")],
    token_error,
    authorize_error,
    consent_params,
    denied_params: &[
        ("error", "access_denied"),
        (
            "error_description",
            "AADSTS65004: User declined to consent to access the app.",
        ),
    ],
    // Microsoft's consent prompt: the permissions listed, "Accept" or "Cancel" for the whole
    // set (docs/provider-behaviour.md, "Consent screens").
    consent_screen: ConsentScreen {
        title: "Permissions requested",
        granular: false,
        accept: "Accept",
        cancel: "Cancel",
    },
    fault_response,
};

/// A refresh token comes with the `offline_access` scope.
fn wants_refresh_token(_query: &HashMap<String, String>, scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == "offline_access")
}

fn token_body(t: &Issued) -> Value {
    let expires_in = t.ttl.as_secs().saturating_sub(1);
    let mut body = json!({
        "token_type": "Bearer",
        "scope": t.scopes.join(" "),
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": t.access_token,
    });
    if let Some(r) = &t.refresh_token {
        body["refresh_token"] = json!(r);
    }
    body
}

/// The identity platform's error body: `error`, an `AADSTS` description with trace ids,
/// `error_codes`, `timestamp`.
fn oauth_error(error: &str, code: u32, description: &str) -> Value {
    let trace = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {now}"),
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": trace,
    })
}

fn token_error(f: TokenFailure) -> (u16, Value) {
    let body = match f {
        TokenFailure::MissingClientId => oauth_error(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ),
        TokenFailure::MissingGrantType | TokenFailure::UnsupportedGrantType(_) => oauth_error(
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ),
        TokenFailure::MissingRefreshToken | TokenFailure::BadRefreshToken => oauth_error(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ),
        TokenFailure::BadCode => oauth_error(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ),
        TokenFailure::ExpiredCode => oauth_error(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        ),
        TokenFailure::RedirectMismatch => oauth_error(
            "invalid_grant",
            50148,
            "The redirect_uri does not match the one used in the authorization request.",
        ),
        TokenFailure::MissingVerifier | TokenFailure::BadVerifier => oauth_error(
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ),
    };
    (400, body)
}

/// Without a usable redirect the identity platform shows an error; otherwise it redirects
/// back with `error` and `error_description`.
fn authorize_error(f: AuthorizeFailure) -> AuthorizeError {
    let page = |param: &str| {
        AuthorizeError::Page(
            Reply::json(
                400,
                oauth_error(
                    "invalid_request",
                    900144,
                    &format!("The request body must contain the following parameter: '{param}'."),
                ),
            )
            .into_response(),
        )
    };
    let back = |error: &'static str, description: &str| {
        AuthorizeError::Redirect(vec![
            ("error", error.to_string()),
            ("error_description", description.to_string()),
        ])
    };
    match f {
        AuthorizeFailure::MissingRedirectUri => page("redirect_uri"),
        AuthorizeFailure::MissingClientId => page("client_id"),
        AuthorizeFailure::UnsupportedResponseType => back(
            "unsupported_response_type",
            "AADSTS70005: response_type 'token' is not enabled for the application.",
        ),
        AuthorizeFailure::MissingScope => back(
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        ),
        AuthorizeFailure::UnsupportedChallengeMethod => back(
            "invalid_request",
            "AADSTS501491: Invalid code_challenge_method: only S256 is supported.",
        ),
    }
}

fn consent_params(_scopes: &[String]) -> Vec<(&'static str, String)> {
    vec![("session_state", uuid::Uuid::new_v4().to_string())]
}

fn fault_response(status: u16) -> Response {
    reply::error(
        status,
        if status == 503 {
            "ServiceUnavailable"
        } else {
            "InternalServerError"
        },
        "The service is temporarily unavailable (fault injection).",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_kit::Grant;

    /// The grant the kit reads from an introspection answer, with this provider's facts.
    fn grant_from(v: &Value, audience: Option<&str>) -> Option<(Grant, Duration)> {
        sandbox_kit::grant_from(&MICROSOFT, v, audience)
    }

    #[test]
    fn rfc7662_answers_become_grants() {
        let (g, ttl) = grant_from(&json!({"active": true, "upn": "Grace@Example.com", "scp": "Mail.Read https://graph.microsoft.com/User.Read", "exp": chrono::Utc::now().timestamp() + 60}), None).unwrap();
        assert_eq!(g.user, "grace@example.com");
        assert_eq!(g.scopes.unwrap(), ["Mail.Read", "User.Read"]);
        assert!(ttl <= Duration::from_secs(60) && ttl >= Duration::from_secs(58));
        assert!(grant_from(
            &json!({"active": false, "username": "ada@example.com"}),
            None
        )
        .is_none());
        assert!(
            grant_from(&json!({"active": true, "sub": "1234567"}), None).is_none(),
            "a user must be an address"
        );
    }
}
