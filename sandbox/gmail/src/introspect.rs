//! Trusting an outside issuer: a bearer token the emulator does not know is looked up at an
//! introspection URL (RFC 7662 `POST token=...`, or Google's tokeninfo shape; the request and
//! the reading of the answer are `connector_core::introspection`'s), and the grant it describes
//! (`email` / `username` / `sub`, `scope`, `exp` / `expires_in`) is cached until it expires.

use std::time::{Duration, Instant};

use connector_core::introspection::{introspect, read_answer};
use serde_json::Value;

use super::auth::{expand_scope, Grant};
use super::{lock, Inner};

pub(crate) use connector_core::introspection::ClientAuth;

/// The claims that name the user, first present wins.
const USER_CLAIMS: &[&str] = &["email", "username", "sub"];

/// Resolves `bearer` at the configured URL unless the emulator already knows it.
pub(crate) async fn ensure_known(inner: &Inner, bearer: &str) {
    let Some(url) = inner.introspection_url.as_deref() else {
        return;
    };
    if bearer.is_empty() || lock(&inner.auth).is_known(bearer) {
        return;
    }
    let client = inner.introspection_client.as_ref();
    let Some(v) = introspect(&inner.http, url, client, bearer, "gmail").await else {
        return;
    };
    if let Some((grant, ttl)) = grant_from(&v, inner.introspection_audience.as_deref()) {
        lock(&inner.store).ensure_user(&grant.user);
        lock(&inner.auth).insert_access(bearer, grant, Instant::now() + ttl);
    }
}

/// The grant an introspection answer describes, or None for an inactive token (or one meant
/// for another audience).
fn grant_from(v: &Value, audience: Option<&str>) -> Option<(Grant, Duration)> {
    let a = read_answer(v, audience, USER_CLAIMS)?;
    let scopes = a.scopes.iter().map(|s| expand_scope(s)).collect();
    Some((
        Grant {
            user: a.user,
            scopes: Some(scopes),
        },
        a.ttl,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn a_configured_audience_must_be_named_by_the_token() {
        let aud = Some("https://gmail.googleapis.com/");
        let answer =
            |a: Value| json!({"active": true, "sub": "ada@example.com", "scope": "", "aud": a});
        assert!(grant_from(&answer(json!("https://gmail.googleapis.com/")), aud).is_some());
        assert!(grant_from(&answer(json!("https://gmail.googleapis.com")), aud).is_some());
        assert!(grant_from(
            &answer(json!([
                "https://other.example/",
                "https://gmail.googleapis.com/"
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
