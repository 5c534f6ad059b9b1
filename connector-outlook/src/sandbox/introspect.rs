//! Trusting an outside issuer: a bearer token the emulator does not know is looked up at an
//! introspection URL (RFC 7662 `POST token=...`), and the answer (`email` / `upn` /
//! `preferred_username` / `username` / `sub`, `scope` or `scp`, `exp` / `expires_in`) is kept
//! until it expires.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::auth::short_scope;
use super::state::{Grant, Inner};

/// How long an introspected token is trusted when the issuer names no expiry.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

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
    let Ok(resp) = inner
        .http
        .post(url)
        .timeout(Duration::from_secs(10))
        .form(&[("token", bearer), ("access_token", bearer)])
        .send()
        .await
    else {
        tracing::warn!(target: "outlook_sandbox", "token introspection request failed");
        return;
    };
    if !resp.status().is_success() {
        return;
    }
    let Ok(v) = resp.json::<Value>().await else {
        return;
    };
    if let Some((grant, ttl)) = grant_from(&v) {
        inner.tokens.lock().expect("tokens").access.insert(
            bearer.to_string(),
            Grant {
                expires: Some(Instant::now() + ttl),
                ..grant
            },
        );
    }
}

/// The grant an introspection answer describes, or None for an inactive token.
pub fn grant_from(v: &Value) -> Option<(Grant, Duration)> {
    if v.get("active").is_some_and(|a| a != &Value::Bool(true)) {
        return None;
    }
    let user = ["email", "upn", "preferred_username", "username", "sub"]
        .iter()
        .find_map(|k| {
            v.get(*k)
                .and_then(Value::as_str)
                .filter(|s| s.contains('@'))
        })?
        .to_ascii_lowercase();
    let scopes = v
        .get("scope")
        .or_else(|| v.get("scp"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .map(short_scope)
        .collect();
    let num = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_i64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let ttl = match (num("expires_in"), num("exp")) {
        (Some(s), _) => Duration::from_secs(s.max(0) as u64),
        (None, Some(exp)) => {
            Duration::from_secs((exp - chrono::Utc::now().timestamp()).max(0) as u64)
        }
        _ => DEFAULT_TTL,
    };
    Some((
        Grant {
            user,
            scopes: Some(scopes),
            expires: None,
        },
        ttl,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7662_answers_become_grants() {
        let (g, ttl) = grant_from(&json!({"active": true, "upn": "Grace@Example.com", "scp": "Mail.Read https://graph.microsoft.com/User.Read", "exp": chrono::Utc::now().timestamp() + 60})).unwrap();
        assert_eq!(g.user, "grace@example.com");
        assert_eq!(g.scopes.unwrap(), ["Mail.Read", "User.Read"]);
        assert!(ttl <= Duration::from_secs(60) && ttl >= Duration::from_secs(58));
        assert!(grant_from(&json!({"active": false, "username": "ada@example.com"})).is_none());
        assert!(
            grant_from(&json!({"active": true, "sub": "1234567"})).is_none(),
            "a user must be an address"
        );
    }
}
