//! Trusting an outside issuer: a bearer token the emulator does not know is looked up at an
//! introspection URL (RFC 7662 `POST token=...`; the request and the reading of the answer are
//! `connector_core::introspection`'s), and the grant it describes (`email` / `upn` /
//! `preferred_username` / `username` / `sub`, `scope` or `scp`, `exp` / `expires_in`) is kept
//! until it expires.

use std::time::{Duration, Instant};

use connector_core::introspection::{introspect, read_answer};
use serde_json::Value;

use super::auth::short_scope;
use super::state::{Grant, Inner};

pub use connector_core::introspection::ClientAuth;

/// The claims that name the user, first present wins.
const USER_CLAIMS: &[&str] = &["email", "upn", "preferred_username", "username", "sub"];

/// Resolves `bearer` at the configured URL unless the emulator already knows it.
pub async fn ensure_known(inner: &Inner, bearer: &str) {
    let Some(url) = inner.introspection_url.as_deref() else {
        return;
    };
    if bearer.is_empty()
        || inner
            .tokens
            .lock()
            .expect("tokens")
            .access
            .contains_key(bearer)
    {
        return;
    }
    let client = inner.introspection_client.as_ref();
    let Some(v) = introspect(&inner.http, url, client, bearer, "outlook").await else {
        return;
    };
    if let Some((grant, ttl)) = grant_from(&v, inner.introspection_audience.as_deref()) {
        inner.tokens.lock().expect("tokens").access.insert(
            bearer.to_string(),
            Grant {
                expires: Some(Instant::now() + ttl),
                ..grant
            },
        );
    }
}

/// The grant an introspection answer describes, or None for an inactive token (or one meant
/// for another audience).
pub fn grant_from(v: &Value, audience: Option<&str>) -> Option<(Grant, Duration)> {
    let a = read_answer(v, audience, USER_CLAIMS)?;
    let scopes = a.scopes.iter().map(|s| short_scope(s)).collect();
    Some((
        Grant {
            user: a.user,
            scopes: Some(scopes),
            expires: None,
        },
        a.ttl,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn a_configured_audience_must_be_named_by_the_token() {
        let aud = Some("https://graph.microsoft.com/");
        let answer =
            |a: Value| json!({"active": true, "sub": "ada@example.com", "scope": "", "aud": a});
        assert!(grant_from(&answer(json!("https://graph.microsoft.com/")), aud).is_some());
        assert!(grant_from(&answer(json!("https://graph.microsoft.com")), aud).is_some());
        assert!(grant_from(
            &answer(json!([
                "https://other.example/",
                "https://graph.microsoft.com/"
            ])),
            aud
        )
        .is_some());
        assert!(grant_from(&answer(json!("https://other.example/")), aud).is_none());
        assert!(
            grant_from(&json!({"active": true, "sub": "ada@example.com"}), aud).is_none(),
            "no aud at all"
        );
        assert!(
            grant_from(&answer(json!("https://other.example/")), None).is_some(),
            "not checked unless configured"
        );
    }
}
