//! Trusting an outside issuer: a bearer token the emulator does not know is looked up at an
//! introspection URL (RFC 7662 `POST token=...`, or Google's tokeninfo shape), and the answer
//! (`email` / `username` / `sub`, `scope`, `exp` / `expires_in`) is cached until it expires.

use std::time::{Duration, Instant};

use connector_core::Secret;
use serde_json::Value;

use super::auth::{expand_scope, Grant};
use super::{lock, Inner};

/// How long an introspected token is trusted when the issuer names no expiry.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// The emulator's client credentials at the issuer (HTTP Basic on the introspection request).
/// No `Debug`: it holds the secret.
pub(crate) struct ClientAuth {
    id: String,
    secret: Option<Secret>,
}

impl ClientAuth {
    pub(crate) fn from_config(id: Option<&str>, secret: Option<&Secret>) -> Option<ClientAuth> {
        id.filter(|i| !i.is_empty()).map(|id| ClientAuth {
            id: id.to_string(),
            secret: secret.cloned(),
        })
    }

    /// `client_secret_basic` (RFC 6749 section 2.3.1: both parts form-urlencoded first).
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        req.basic_auth(enc(&self.id), self.secret.as_ref().map(|s| enc(s.expose())))
    }
}

/// Whether the answer's `aud` (a string or an array of strings) names `audience`.
fn audience_matches(v: &Value, audience: &str) -> bool {
    let same = |a: &Value| {
        a.as_str()
            .is_some_and(|a| a.trim_end_matches('/') == audience.trim_end_matches('/'))
    };
    match v.get("aud") {
        Some(Value::Array(all)) => all.iter().any(same),
        Some(one) => same(one),
        None => false,
    }
}

/// Resolves `bearer` at the configured URL unless the emulator already knows it.
pub(crate) async fn ensure_known(inner: &Inner, bearer: &str) {
    let Some(url) = inner.introspection_url.as_deref() else {
        return;
    };
    if bearer.is_empty() || lock(&inner.auth).is_known(bearer) {
        return;
    }
    let mut req = inner
        .http
        .post(url)
        .form(&[("token", bearer), ("access_token", bearer)]);
    if let Some(client) = &inner.introspection_client {
        req = client.apply(req);
    }
    let answer = req.send().await;
    let Ok(resp) = answer else {
        tracing::warn!(target: "gmail_sandbox", "token introspection request failed");
        return;
    };
    if !resp.status().is_success() {
        tracing::warn!(target: "gmail_sandbox", status = resp.status().as_u16(), "token introspection refused (check introspection_client_id / introspection_client_secret)");
        return;
    }
    let Ok(v) = resp.json::<Value>().await else {
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
    if v.get("active").is_some_and(|a| a != &Value::Bool(true)) {
        return None;
    }
    if audience.is_some_and(|a| !audience_matches(v, a)) {
        return None;
    }
    let user = ["email", "username", "sub"]
        .iter()
        .find_map(|k| {
            v.get(*k)
                .and_then(Value::as_str)
                .filter(|s| s.contains('@'))
        })?
        .to_ascii_lowercase();
    let scopes = v
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .map(expand_scope)
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
        },
        ttl,
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
