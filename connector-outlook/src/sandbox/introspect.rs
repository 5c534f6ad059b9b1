//! Trusting an outside issuer: a bearer token the emulator does not know is looked up at an
//! introspection URL (RFC 7662 `POST token=...`), and the answer (`email` / `upn` /
//! `preferred_username` / `username` / `sub`, `scope` or `scp`, `exp` / `expires_in`) is kept
//! until it expires.

use std::time::{Duration, Instant};

use connector_core::Secret;
use serde_json::Value;

use super::auth::short_scope;
use super::state::{Grant, Inner};

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
    let mut req = inner
        .http
        .post(url)
        .timeout(Duration::from_secs(10))
        .form(&[("token", bearer), ("access_token", bearer)]);
    if let Some(client) = &inner.introspection_client {
        req = client.apply(req);
    }
    let Ok(resp) = req.send().await else {
        tracing::warn!(target: "outlook_sandbox", "token introspection request failed");
        return;
    };
    if !resp.status().is_success() {
        tracing::warn!(target: "outlook_sandbox", status = resp.status().as_u16(), "token introspection refused (check introspection_client_id / introspection_client_secret)");
        return;
    }
    let Ok(v) = resp.json::<Value>().await else {
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
    if v.get("active").is_some_and(|a| a != &Value::Bool(true)) {
        return None;
    }
    if audience.is_some_and(|a| !audience_matches(v, a)) {
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
