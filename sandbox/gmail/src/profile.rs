//! Google's facts, given to the kit: token shapes and prefixes, scope naming, the token
//! endpoint's and consent screen's answers, and the error body of an injected fault.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sandbox_kit::{
    AuthorizeError, AuthorizeFailure, ConsentScreen, Issued, Profile, QuotaRules, TokenFailure,
};
use serde_json::{json, Value};

use crate::auth::expand_scope;
use crate::error::ApiError;
use crate::router::Resp;

/// Requests in flight at once per user, batch parts counted one each. Google does not publish
/// the number; reports show a cold batch of 100 partly refused with 429 "Too many concurrent
/// requests for user" while batches of 25 (and 50 after a rest) pass (amd/gaia#2720,
/// google-api-dotnet-client#1982).
pub const CONCURRENT_REQUESTS: usize = 50;

pub(crate) static GOOGLE: Profile = Profile {
    name: "gmail",
    access_token_prefix: "ya29.sandbox-",
    refresh_token_prefix: "1//sandbox-",
    code_prefix: "4/0sandbox-",
    access_ttl: Duration::from_secs(3599),
    // The 2026 quota (`QuotaProfile::Since2026`, 6,000 units per user per minute at the unit
    // costs of `auth::quota_cost`), and the per-user limit on requests in flight, batch parts
    // counted one each.
    quota: QuotaRules {
        units: 6_000,
        window: Duration::from_secs(60),
        max_concurrent: Some(CONCURRENT_REQUESTS),
    },
    rotates_refresh_tokens: false,
    // The latency is spent per HTTP request while its request slots are held (`server::entry`),
    // so that slow requests overlap the way they do at Google.
    latency_per_request: false,
    normalize_scope: expand_scope,
    user_claims: &["email", "username", "sub"],
    wants_refresh_token,
    token_body,
    token_headers: &[(
        "cache-control",
        "no-cache, no-store, max-age=0, must-revalidate",
    )],
    token_error,
    authorize_error,
    consent_params,
    denied_params: &[("error", "access_denied")],
    // Google's granular consent: one checkbox per scope, "Cancel" and "Continue"
    // (docs/provider-behaviour.md, "Consent screens").
    consent_screen: ConsentScreen {
        title: "Sign in with Google",
        granular: true,
        accept: "Continue",
        cancel: "Cancel",
    },
    fault_response,
};

/// A refresh token comes with `access_type=offline`.
fn wants_refresh_token(query: &HashMap<String, String>, _scopes: &[String]) -> bool {
    query.get("access_type").map(String::as_str) == Some("offline")
}

fn token_body(t: &Issued) -> Value {
    let mut body = json!({
        "access_token": t.access_token,
        "expires_in": t.ttl.as_secs(),
        "scope": t.scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(r) = &t.refresh_token {
        body["refresh_token"] = json!(r);
    }
    body
}

fn token_error(f: TokenFailure) -> (u16, Value) {
    let (error, description) = match &f {
        TokenFailure::MissingClientId => (
            "invalid_request",
            "Could not determine client ID from request.".to_string(),
        ),
        TokenFailure::MissingGrantType => (
            "invalid_request",
            "Missing required parameter: grant_type".into(),
        ),
        TokenFailure::UnsupportedGrantType(g) => {
            ("unsupported_grant_type", format!("Invalid grant_type: {g}"))
        }
        TokenFailure::MissingRefreshToken => (
            "invalid_request",
            "Missing required parameter: refresh_token".into(),
        ),
        TokenFailure::BadRefreshToken => {
            ("invalid_grant", "Token has been expired or revoked.".into())
        }
        TokenFailure::BadCode => ("invalid_grant", "Malformed auth code.".into()),
        TokenFailure::ExpiredCode => ("invalid_grant", "Bad Request".into()),
        TokenFailure::RedirectMismatch => ("redirect_uri_mismatch", "Bad Request".into()),
        TokenFailure::MissingVerifier => ("invalid_grant", "Missing code verifier.".into()),
        TokenFailure::BadVerifier => ("invalid_grant", "Invalid code verifier.".into()),
    };
    (
        400,
        json!({"error": error, "error_description": description}),
    )
}

/// Google shows an error page for every bad authorization request.
fn authorize_error(f: AuthorizeFailure) -> AuthorizeError {
    let message = match f {
        AuthorizeFailure::MissingRedirectUri => "Missing required parameter: redirect_uri",
        AuthorizeFailure::MissingClientId => "Missing required parameter: client_id",
        AuthorizeFailure::UnsupportedResponseType => {
            "Unsupported response_type: only code is supported"
        }
        AuthorizeFailure::MissingScope => "Missing required parameter: scope",
        AuthorizeFailure::UnsupportedChallengeMethod => {
            "Only code_challenge_method=S256 is supported"
        }
    };
    AuthorizeError::Page(
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "text/plain; charset=utf-8")],
            format!("Error 400: invalid_request\n{message}\n"),
        )
            .into_response(),
    )
}

/// The granted scopes come back with the code.
fn consent_params(scopes: &[String]) -> Vec<(&'static str, String)> {
    vec![("scope", scopes.join(" "))]
}

fn fault_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Resp::error(&ApiError::server_error(status)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_kit::Grant;

    /// The grant the kit reads from an introspection answer, with this provider's facts.
    fn grant_from(v: &Value, audience: Option<&str>) -> Option<(Grant, Duration)> {
        sandbox_kit::grant_from(&GOOGLE, v, audience)
    }

    #[test]
    fn rfc7662_and_tokeninfo_answers_become_grants() {
        let (g, ttl) = grant_from(&json!({"active": true, "username": "Grace@Example.com", "scope": "gmail.readonly", "exp": chrono::Utc::now().timestamp() + 60}), None).unwrap();
        assert_eq!(g.user, "grace@example.com");
        assert_eq!(
            g.scopes.unwrap(),
            ["https://www.googleapis.com/auth/gmail.readonly"]
        );
        assert!(ttl <= Duration::from_secs(60) && ttl >= Duration::from_secs(58));
        let (g, ttl) = grant_from(&json!({"email": "ada@example.com", "scope": "https://mail.google.com/", "expires_in": "3000"}), None).unwrap();
        assert_eq!(
            (g.user.as_str(), ttl),
            ("ada@example.com", Duration::from_secs(3000))
        );
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
