//! The exactly-once send step: an idempotency key gives a marker the provider keeps on the sent
//! message (a custom header on Gmail, a single-value extended property on Graph: neither
//! provider keeps a client's Message-ID reliably); a retry with the same key first looks for a
//! message carrying it, in sent mail and in mail still in transit, and sends only when there is
//! none. A draft carrying the marker is never taken for a sent message.

use std::future::Future;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Output, Result};

/// The domain of derived Message-IDs when the sender's own domain is not known.
pub const MARKER_DOMAIN: &str = "agent-connectors.invalid";

/// The header (Gmail) or extended property name (Graph) that carries a keyed send's marker.
pub const MARKER_HEADER: &str = "X-Agent-Connectors-Send-Key";

/// Where a retry found the earlier attempt of a keyed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// In sent mail: it went out.
    Sent,
    /// Accepted by the provider and still in transit (Graph Drafts / Outbox): it will go out,
    /// so it must not be sent again.
    InFlight,
}

impl Found {
    /// The `status` a deduplicated send answers with.
    pub fn status(self) -> &'static str {
        match self {
            Found::Sent => "already_sent",
            Found::InFlight => "in_flight",
        }
    }
}

/// The marker a send with this idempotency key carries: `idem-{32 hex}`, the same for the same
/// key, and not the key itself (keys may say more than they should).
pub fn idempotency_marker(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("idem-{}", hex::encode(&digest[..16]))
}

/// The Message-ID a send with this idempotency key carries: the same key always gives the same
/// id (`<idem-{32 hex}@{domain}>`), so a retry can find the earlier send by it.
pub fn idempotent_message_id(key: &str, domain: &str) -> String {
    format!("<{}@{domain}>", idempotency_marker(key))
}

/// With a marker, asks `find` for an earlier message carrying it; what it finds comes back as
/// the call's result with `metadata.deduplicated = true`. `None`: send now.
pub async fn look_before_sending<F, Fut>(marker: Option<&str>, find: F) -> Result<Option<Output>>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<Option<Value>>>,
{
    let Some(marker) = marker else {
        return Ok(None);
    };
    Ok(find(marker.to_string())
        .await?
        .map(|found| Output::new(found).with_meta("deduplicated", true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_derived_ids_are_stable_and_distinct() {
        assert_eq!(
            idempotent_message_id("a", "d.com"),
            idempotent_message_id("a", "d.com")
        );
        assert_ne!(
            idempotent_message_id("a", "d.com"),
            idempotent_message_id("b", "d.com")
        );
        let id = idempotent_message_id("k1", MARKER_DOMAIN);
        assert!(id.starts_with("<idem-") && id.ends_with("@agent-connectors.invalid>"));
        assert_eq!(id.len(), "<idem-@agent-connectors.invalid>".len() + 32);
        let marker = idempotency_marker("k1");
        assert!(id.starts_with(&format!("<{marker}@")), "{id} {marker}");
        assert_ne!(marker, idempotency_marker("k2"));
        assert!(!marker.contains("k1"));
        // Markers are stored in sent mail and looked for later: their form never changes
        // (the first 16 bytes of SHA-256 of the key, lowercase hex).
        assert_eq!(
            idempotency_marker("order-42"),
            "idem-3bf8b157c4238eefe5ae4a66eca81c6b"
        );
    }

    #[tokio::test]
    async fn an_earlier_send_is_returned_as_deduplicated_and_no_key_looks_for_nothing() {
        let found = look_before_sending(
            Some("<m>"),
            |m| async move { Ok(Some(json!({"marker": m}))) },
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(found.result["marker"], "<m>");
        assert_eq!(found.metadata["deduplicated"], true);
        let none = look_before_sending(Some("<m>"), |_| async { Ok(None) })
            .await
            .unwrap();
        assert!(none.is_none());
        let unasked = look_before_sending(None, |_| async {
            panic!("no marker, no look-up");
            #[allow(unreachable_code)]
            Ok(None)
        })
        .await
        .unwrap();
        assert!(unasked.is_none());
    }
}
