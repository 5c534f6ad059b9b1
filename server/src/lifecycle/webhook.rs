//! Status-change events: logged, and POSTed to the organization's webhook URL when one is set.
//!
//! Body (JSON):
//! `{"id": "evt_...", "type": "connector.status_changed", "created_at": <unix>,
//!   "organization_id", "connector_id", "customer_name", "connector_type",
//!   "status": "needs_reauth" | "active" | "deleted", "previous_status", "reason"}`
//!
//! Headers: `X-Connectors-Event-Id`, `X-Connectors-Event-Type`, and, when the organization
//! set a webhook secret, `X-Connectors-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>` ([`sign`], [`verify`]). Receivers should reject a timestamp older than five
//! minutes (replays) and compare in constant time. Deliveries run in the background: a failing
//! endpoint is retried with backoff (each attempt signed afresh) and never blocks a request.

use std::time::Duration;

use api_types::{EventStatus, StatusChangedEvent};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::store::{new_id, now, Store};
use crate::vault::Vault;

pub const SIGNATURE_HEADER: &str = "X-Connectors-Signature";
pub const EVENT_TYPE: &str = api_types::webhook::STATUS_CHANGED;

/// Waits before the 2nd, 3rd, ... attempt.
const BACKOFF: &[u64] = &[1, 5, 30, 120, 600];
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One status change.
#[derive(Debug, Clone, Serialize)]
pub struct StatusEvent {
    pub organization_id: String,
    pub connector_id: String,
    pub customer_name: Option<String>,
    pub connector_type: Option<String>,
    pub status: String,
    pub previous_status: Option<String>,
    pub reason: Option<String>,
}

/// Sends events (cheap to clone).
#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    vault: Vault,
    http: reqwest::Client,
    backoff: Vec<Duration>,
}

impl Webhooks {
    pub fn new(store: Store, vault: Vault) -> Webhooks {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .expect("the HTTP client builds");
        Webhooks {
            store,
            vault,
            http,
            backoff: BACKOFF.iter().map(|s| Duration::from_secs(*s)).collect(),
        }
    }

    /// Other waits between attempts (tests).
    pub fn with_backoff(mut self, backoff: Vec<Duration>) -> Webhooks {
        self.backoff = backoff;
        self
    }

    /// Logs the change and delivers it in the background.
    pub fn emit(&self, event: StatusEvent) {
        tracing::info!(
            organization_id = %event.organization_id,
            connector_id = %event.connector_id,
            status = %event.status,
            previous_status = ?event.previous_status,
            reason = ?event.reason,
            "connector status changed"
        );
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: the status webhook was not sent");
            return;
        };
        let this = self.clone();
        rt.spawn(async move { this.deliver(event).await });
    }

    /// Delivers one event with retries; whether an attempt was answered 2xx.
    pub async fn deliver(&self, event: StatusEvent) -> bool {
        let org = event.organization_id.clone();
        let settings = match self.store.org_settings(&org).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "reading the organization's webhook settings failed");
                return false;
            }
        };
        let Some(url) = settings.webhook_url else {
            return false;
        };
        let secret = match &settings.webhook_secret {
            Some(blob) => match self.vault.decrypt(&org, blob).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "the webhook secret does not decrypt; event not sent");
                    return false;
                }
            },
            None => {
                tracing::warn!(organization_id = %org, "no webhook secret set: the event is sent unsigned");
                None
            }
        };
        let id = format!("evt_{}", new_id().replace('-', ""));
        let Some(status) = EventStatus::parse(&event.status) else {
            tracing::error!(status = %event.status, "not a webhook status; event not sent");
            return false;
        };
        let body = serde_json::to_vec(&StatusChangedEvent {
            id: id.clone(),
            kind: EVENT_TYPE.to_string(),
            created_at: now(),
            organization_id: event.organization_id,
            connector_id: event.connector_id,
            customer_name: event.customer_name,
            connector_type: event.connector_type,
            status,
            previous_status: event
                .previous_status
                .as_deref()
                .and_then(EventStatus::parse),
            reason: event.reason,
        })
        .expect("the event serializes");
        let attempts = self.backoff.len() + 1;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff[attempt - 1]).await;
            }
            let mut req = self
                .http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Connectors-Event-Id", &id)
                .header("X-Connectors-Event-Type", EVENT_TYPE);
            if let Some(secret) = &secret {
                req = req.header(SIGNATURE_HEADER, sign(secret, now(), &body));
            }
            match req.body(body.clone()).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(event_id = %id, attempt, "status webhook delivered");
                    return true;
                }
                Ok(r) => {
                    tracing::warn!(event_id = %id, attempt, status = r.status().as_u16(), "status webhook refused; will retry")
                }
                Err(e) => {
                    tracing::warn!(event_id = %id, attempt, error = %without_url(&e), "status webhook failed; will retry")
                }
            }
        }
        tracing::error!(event_id = %id, attempts, "status webhook given up");
        false
    }
}

fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else {
        "request error".into()
    }
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The signature header value: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac(secret, t, body).finalize().into_bytes())
    )
}

/// Checks a signature header: a `v1` matches and `t` is within `tolerance_secs` of `now`.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    sigs.iter()
        .any(|s| mac(secret, t, body).verify_slice(s).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_body_time_or_secret_does_not() {
        let h = sign(b"whsec", 1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify(b"whsec", &h, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(b"whsec", &h, b"{\"a\":2}", 1_700_000_010, 300));
        assert!(!verify(b"other", &h, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(b"whsec", &h, b"{\"a\":1}", 1_700_001_000, 300));
        assert!(!verify(b"whsec", "v1=00", b"{\"a\":1}", 1_700_000_000, 300));
    }

    #[test]
    fn the_signed_text_is_timestamp_dot_body() {
        let expected = {
            let mut m = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
            m.update(b"42.body");
            hex::encode(m.finalize().into_bytes())
        };
        assert_eq!(sign(b"k", 42, b"body"), format!("t=42,v1={expected}"));
    }
}
