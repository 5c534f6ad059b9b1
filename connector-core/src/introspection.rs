//! Token introspection for the sandbox emulators that trust an outside issuer: a bearer token an
//! emulator does not know is looked up at an introspection URL (RFC 7662 `POST token=...`, or
//! Google's tokeninfo shape, which reads `access_token`), with the emulator's client credentials
//! when it has some, and the answer (user, scopes, lifetime) is read here. Each emulator maps the
//! scopes to its own names and keeps the grant until it expires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::Secret;

/// How long an introspected token is trusted when the issuer names no expiry.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// How long an introspection request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The emulator's client credentials at the issuer (HTTP Basic on the introspection request).
/// No `Debug`: it holds the secret.
pub struct ClientAuth {
    id: String,
    secret: Option<Secret>,
}

impl ClientAuth {
    /// None without a client id (the issuer then gets an unauthenticated request).
    pub fn from_config(id: Option<&str>, secret: Option<&Secret>) -> Option<ClientAuth> {
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

/// What an introspection answer says about an active token.
#[derive(Debug, Clone, PartialEq)]
pub struct Introspected {
    /// The user's address, lower-cased.
    pub user: String,
    /// The granted scopes as the issuer wrote them (`scope`, else `scp`).
    pub scopes: Vec<String>,
    /// How long the token may be trusted.
    pub ttl: Duration,
}

/// Asks the issuer at `url` about `bearer`; None (logged, naming `emulator`) when the request
/// fails, the issuer refuses it, or the answer is not JSON.
pub async fn introspect(
    http: &reqwest::Client,
    url: &str,
    client: Option<&ClientAuth>,
    bearer: &str,
    emulator: &str,
) -> Option<Value> {
    let mut req = http
        .post(url)
        .timeout(TIMEOUT)
        .form(&[("token", bearer), ("access_token", bearer)]);
    if let Some(client) = client {
        req = client.apply(req);
    }
    let Ok(resp) = req.send().await else {
        tracing::warn!(emulator, "token introspection request failed");
        return None;
    };
    if !resp.status().is_success() {
        tracing::warn!(emulator, status = resp.status().as_u16(), "token introspection refused (check introspection_client_id / introspection_client_secret)");
        return None;
    }
    resp.json::<Value>().await.ok()
}

/// Reads an introspection answer: None for an inactive token, one meant for another audience
/// (when `audience` is set), or one whose first present claim of `user_claims` is no address.
pub fn read_answer(
    v: &Value,
    audience: Option<&str>,
    user_claims: &[&str],
) -> Option<Introspected> {
    if v.get("active").is_some_and(|a| a != &Value::Bool(true)) {
        return None;
    }
    if audience.is_some_and(|a| !audience_matches(v, a)) {
        return None;
    }
    let user = user_claims
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
        .map(str::to_string)
        .collect();
    let num = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_i64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let ttl = match (num("expires_in"), num("exp")) {
        (Some(s), _) => Duration::from_secs(s.max(0) as u64),
        (None, Some(exp)) => Duration::from_secs((exp - now).max(0) as u64),
        _ => DEFAULT_TTL,
    };
    Some(Introspected { user, scopes, ttl })
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

#[cfg(test)]
mod tests {
    use super::read_answer;
    use serde_json::{json, Value};

    /// The audience rule every emulator profile relies on (Gmail's and Graph's only differ in
    /// the audience they configure).
    #[test]
    fn a_configured_audience_must_be_named_by_the_token() {
        let claims = ["sub"];
        let aud = Some("https://api.example.com/");
        let answer =
            |a: Value| json!({"active": true, "sub": "ada@example.com", "scope": "", "aud": a});
        let read = |v: &Value, aud| read_answer(v, aud, &claims);
        assert!(read(&answer(json!("https://api.example.com/")), aud).is_some());
        assert!(
            read(&answer(json!("https://api.example.com")), aud).is_some(),
            "a trailing slash does not matter"
        );
        assert!(read(
            &answer(json!([
                "https://other.example/",
                "https://api.example.com/"
            ])),
            aud
        )
        .is_some());
        assert!(read(&answer(json!("https://other.example/")), aud).is_none());
        assert!(
            read(&json!({"active": true, "sub": "ada@example.com"}), aud).is_none(),
            "no aud at all"
        );
        assert!(
            read(&answer(json!("https://other.example/")), None).is_some(),
            "not checked unless configured"
        );
    }
}
