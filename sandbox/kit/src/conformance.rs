//! The control-surface test every emulator runs (feature `conformance`): the same steps against
//! any [`Emulator`], over real HTTP, so that each control is proven to work for each provider;
//! and the steps its tests share ([`consent`]: the interactive consent screen's round trip).
//!
//! ```text
//! #[tokio::test]
//! async fn the_kit_controls_work_here() {
//!     let sb = MySandbox::start(SandboxConfig { quotas: false, ..Default::default() }).unwrap();
//!     sandbox_kit::conformance::control_surface(&sb, &Probe { path: "/v1.0/me", scopes: &["User.Read"] }).await;
//! }
//! ```

pub mod consent;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Emulator, Fault, FaultKind, DEFAULT_USER};

/// A cheap authenticated read of the emulated API.
pub struct Probe<'a> {
    /// Path (and query) under the emulator's root, e.g. `/gmail/v1/users/me/profile`.
    pub path: &'a str,
    /// Scopes that allow it, as the provider names them.
    pub scopes: &'a [&'a str],
}

struct Client<'a> {
    http: reqwest::Client,
    root: String,
    token_url: String,
    probe: &'a Probe<'a>,
}

impl Client<'_> {
    /// Refreshes at the token endpoint: (status, body).
    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let r = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", "conformance-client"),
                ("client_secret", "conformance-secret"),
            ])
            .send()
            .await
            .expect("the token endpoint answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The probe with `access_token`: its status, or None when the connection closed without one.
    async fn probe(&self, access_token: &str) -> Option<u16> {
        let r = self
            .http
            .get(format!("{}{}", self.root, self.probe.path))
            .bearer_auth(access_token)
            .send()
            .await
            .ok()?;
        Some(r.status().as_u16())
    }
}

/// The root (scheme, host and port) of a URL.
fn root_of(url: &str) -> String {
    let u = url::Url::parse(url).expect("the emulator's URL parses");
    format!(
        "{}://{}:{}",
        u.scheme(),
        u.host_str().unwrap_or("127.0.0.1"),
        u.port_or_known_default().unwrap_or(80)
    )
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {v}"))
        .to_string()
}

/// Revokes a refresh token, expires access tokens, injects faults and adds latency on `sb`,
/// checking each effect over HTTP. Panics on the first control that does not work. Start the
/// emulator with quotas off and no token rules.
pub async fn control_surface(sb: &dyn Emulator, probe: &Probe<'_>) {
    let c = Client {
        http: reqwest::Client::new(),
        root: root_of(&sb.base_url()),
        token_url: sb.token_url(),
        probe,
    };
    let kit = sb.kit();
    let name = sb.provider();
    let before = kit.counts();

    // A minted refresh token is redeemed for an access token that works.
    let mut refresh_token = kit.issue_refresh_token(DEFAULT_USER, probe.scopes);
    let (status, body) = c.refresh(&refresh_token).await;
    assert_eq!(status, 200, "{name}: refresh answers 200: {body}");
    let first = text(&body, "access_token");
    if let Some(next) = body["refresh_token"].as_str() {
        refresh_token = next.to_string();
    }
    assert_eq!(
        c.probe(&first).await,
        Some(200),
        "{name}: the access token works"
    );
    assert_eq!(kit.counts().token_requests, before.token_requests + 1);

    // Expired access tokens answer 401; a refresh gets a working one.
    kit.expire_access_tokens();
    assert_eq!(
        c.probe(&first).await,
        Some(401),
        "{name}: expired token refused"
    );
    let (status, body) = c.refresh(&refresh_token).await;
    assert_eq!(status, 200, "{name}: refresh after expiry: {body}");
    let access = text(&body, "access_token");
    assert_ne!(access, first);
    if let Some(next) = body["refresh_token"].as_str() {
        refresh_token = next.to_string();
    }
    assert_eq!(
        c.probe(&access).await,
        Some(200),
        "{name}: the new token works"
    );

    // Faults: a status without running the request, then a dropped connection, each once.
    let faults = kit.counts().faults_triggered;
    kit.inject_fault(Fault::new("GET", probe.path, FaultKind::Status(503)));
    assert_eq!(c.probe(&access).await, Some(503), "{name}: status fault");
    kit.inject_fault(Fault::new("*", probe.path, FaultKind::DropConnection));
    assert_eq!(c.probe(&access).await, None, "{name}: dropped connection");
    assert_eq!(
        c.probe(&access).await,
        Some(200),
        "{name}: faults are used up"
    );
    assert_eq!(kit.counts().faults_triggered, faults + 2);
    kit.inject_fault(Fault::new("GET", probe.path, FaultKind::Status(500)).times(5));
    kit.clear_faults();
    assert_eq!(c.probe(&access).await, Some(200), "{name}: faults cleared");

    // Latency delays the answer, and goes away again.
    let delay = Duration::from_millis(300);
    kit.set_latency(Some(delay));
    let started = Instant::now();
    assert_eq!(c.probe(&access).await, Some(200));
    assert!(started.elapsed() >= delay, "{name}: latency added");
    kit.set_latency(None);
    let started = Instant::now();
    assert_eq!(c.probe(&access).await, Some(200));
    assert!(started.elapsed() < delay, "{name}: latency removed");

    // A revoked refresh token is refused with invalid_grant; a second revocation finds nothing.
    assert!(kit.revoke_refresh_token(&refresh_token), "{name}: revoked");
    let (status, body) = c.refresh(&refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{name}: revoked refresh token refused: {body}"
    );
    assert!(!kit.revoke_refresh_token(&refresh_token));
}

/// A Message-ID as RFC 5322 writes it: `<left@right>`, no spaces or brackets inside.
pub fn is_message_id(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('<').and_then(|s| s.strip_suffix('>')) else {
        return false;
    };
    let Some((left, right)) = inner.split_once('@') else {
        return false;
    };
    !left.is_empty() && !right.is_empty() && !inner.contains(['<', '>', ' ', '\t'])
}
