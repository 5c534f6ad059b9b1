//! Status-change events: logged, and written to the events outbox
//! ([`crate::services::events`]), which POSTs them to the organization's webhook URL when one is
//! set and serves them in the connector's event feed.
//!
//! Body (JSON, [`api_types::StatusChangedEvent`]):
//! `{"id": "evt_...", "type": "connector.status_changed", "created_at": <unix>,
//!   "organization_id", "connector_id", "customer_name", "connector_type",
//!   "status": "needs_reauth" | "active" | "deleted", "previous_status", "reason", "sequence",
//!   "reconnect_url", "reconnect_expires_at"}` (the last two with `needs_reauth` only: a link
//!   that opens the connect page in reconnect mode, see [`crate::services::reconnect`]; never
//!   logged)
//!
//! Headers: `X-Connectors-Event-Id`, `X-Connectors-Event-Type`, and, when the organization
//! set a webhook secret, `X-Connectors-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>` ([`sign`], [`verify`]). Receivers should reject a timestamp older than five
//! minutes (replays) and compare in constant time. Deliveries run in the background, from the
//! database: a failing endpoint is retried with backoff (each attempt signed afresh), across
//! restarts, and never blocks a request.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::store::Store;

pub const SIGNATURE_HEADER: &str = "X-Connectors-Signature";
pub const EVENT_TYPE: &str = api_types::webhook::STATUS_CHANGED;

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

/// Writes status events to the outbox (cheap to clone).
#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    /// The origin of the reconnect links the events carry.
    public_url: String,
}

impl Webhooks {
    pub fn new(store: Store, public_url: String) -> Webhooks {
        Webhooks { store, public_url }
    }

    /// Logs the change and writes it to the outbox in the background.
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
            tracing::warn!("no async runtime: the status event was not recorded");
            return;
        };
        let this = self.clone();
        rt.spawn(async move { this.record(event).await });
    }

    /// Writes one event to the outbox; whether it was written.
    pub async fn record(&self, event: StatusEvent) -> bool {
        match crate::services::events::record_status(&self.store, &event, &self.public_url).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(connector_id = %event.connector_id, error = %e, "recording a status event failed");
                false
            }
        }
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
