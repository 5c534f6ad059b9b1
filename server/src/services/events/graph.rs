//! Push in from Microsoft Graph change notifications (issue 20).
//!
//! With `outlook_push_url` set, each Outlook connector gets a subscription on its mailbox's
//! messages (created, updated, deleted; every folder) whose `notificationUrl` is that URL and
//! whose `lifecycleNotificationUrl` is the URL + `/lifecycle`, with a random `clientState`
//! secret per subscription, of which the database keeps only the SHA-256. Without it Outlook
//! connectors are polled.
//!
//! - **Handshake**: Graph POSTs `?validationToken=...` to both URLs when a subscription is
//!   created and wants the token back as `text/plain` with 200 within 10 seconds
//!   ([`validation_answer`]).
//! - **Notifications** are checked one by one: the subscription must be one of ours and its
//!   `clientState` must hash to the stored secret (compared in constant time). A genuine one
//!   moves the connector's poll to now in the database, and the endpoint answers 202 (Graph
//!   wants an answer within 3 seconds); the poll then reads delta from the stored cursor, so
//!   duplicates and late notifications cost a read, never an event. A request with no genuine
//!   notification is refused (401) and records nothing.
//! - **Lifecycle notifications**: `reauthorizationRequired` renews the subscription now
//!   (`PATCH`, by whichever replica polls next), `subscriptionRemoved` creates a new one,
//!   `missed` reads delta now; each also polls at once, and the poll after a renewal or a new
//!   subscription reads again, so changes between them are not missed.
//! - **Renewal** before expiry: after two thirds of the granted lifetime, at most a day after
//!   the last (Outlook message subscriptions last at most 10,080 minutes), claimed through the
//!   database so one replica does it.

use api_types::events::GraphNotifications;
use connector_core::changes::PushTarget;
use connector_core::{ConnectorError, ErrorCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{db, Events};
use crate::store::events::now_ms;

/// The connector type whose push this is.
const KIND: &str = "outlook";
/// Longest validation token echoed (Graph's are about 200 characters).
pub const MAX_VALIDATION_TOKEN: usize = 1024;
/// Most notifications looked at in one request (Graph batches a few).
pub const MAX_NOTIFICATIONS: usize = 1000;

/// Graph change notifications: where Graph reaches this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutlookPushConfig {
    /// The public URL of `POST /push/outlook`; lifecycle notifications go to it + `/lifecycle`.
    pub notification_url: String,
}

/// The answer to Graph's validation request: the token as given, when it is one.
pub fn validation_answer(token: &str) -> Result<String, ConnectorError> {
    if token.is_empty() || token.chars().count() > MAX_VALIDATION_TOKEN {
        return Err(ConnectorError::invalid_params(format!(
            "validationToken must be 1 to {MAX_VALIDATION_TOKEN} characters"
        )));
    }
    Ok(token.to_string())
}

/// A notification collection as Graph sends it, at most [`MAX_NOTIFICATIONS`] of them.
pub fn parse_notifications(body: &[u8]) -> Result<GraphNotifications, ConnectorError> {
    let n: GraphNotifications = serde_json::from_slice(body).map_err(|_| {
        ConnectorError::invalid_params("not a Graph change notification collection")
    })?;
    if n.value.len() > MAX_NOTIFICATIONS {
        return Err(ConnectorError::invalid_params(format!(
            "at most {MAX_NOTIFICATIONS} notifications in one request"
        )));
    }
    Ok(n)
}

/// A new `clientState` secret (32 random bytes, hex).
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn genuine(client_state: Option<&str>, stored: Option<&str>) -> bool {
    let (Some(given), Some(stored)) = (client_state, stored) else {
        return false;
    };
    secret_hash(given)
        .as_bytes()
        .ct_eq(stored.as_bytes())
        .into()
}

impl Events {
    /// Turns Graph change notifications on: Outlook connectors get a subscription pointing at
    /// `config.notification_url` when their push is next looked after.
    pub fn enable_outlook_push(&self, config: OutlookPushConfig) {
        let url = config.notification_url.trim_end_matches('/').to_string();
        let target = PushTarget {
            lifecycle_url: Some(format!("{url}/lifecycle")),
            notification_url: Some(url),
            ..Default::default()
        };
        self.push_targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(KIND.into(), target);
    }

    /// A POST of Graph change notifications (`lifecycle`: to the lifecycle URL): each genuine
    /// one is recorded; how many. `Unauthenticated` when none is.
    pub async fn outlook_pushed(
        &self,
        body: &[u8],
        lifecycle: bool,
    ) -> Result<u64, ConnectorError> {
        let n = parse_notifications(body)?;
        let mut recorded = 0u64;
        let mut refused = 0u64;
        for item in &n.value {
            let streams = self
                .store
                .push_secrets(KIND, &item.subscription_id)
                .await
                .map_err(db)?;
            for (connector_id, stored) in streams {
                if !genuine(item.client_state.as_deref(), stored.as_deref()) {
                    refused += 1;
                    continue;
                }
                let event = if lifecycle {
                    item.lifecycle_event.as_deref().unwrap_or("")
                } else {
                    ""
                };
                let (renew, forget) = match event {
                    "reauthorizationRequired" => (true, false),
                    "subscriptionRemoved" => (true, true),
                    _ => (false, false),
                };
                if lifecycle {
                    tracing::info!(%connector_id, event, "Graph lifecycle notification");
                }
                self.store
                    .push_for_stream(&connector_id, now_ms(), renew, forget)
                    .await
                    .map_err(db)?;
                recorded += 1;
            }
        }
        if recorded == 0 && !n.value.is_empty() {
            tracing::warn!(
                notifications = n.value.len(),
                wrong_client_state = refused,
                "Graph notification refused: no subscription of ours with that clientState"
            );
            return Err(ConnectorError::new(
                ErrorCode::Unauthenticated,
                "no notification names a subscription of this server with its clientState",
            ));
        }
        super::poll::WAKE.notify_waiters();
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_itself_is_genuine() {
        let s = new_secret();
        assert_eq!(s.len(), 64);
        assert_ne!(s, new_secret());
        let stored = secret_hash(&s);
        assert!(genuine(Some(&s), Some(&stored)));
        assert!(!genuine(Some("guess"), Some(&stored)));
        assert!(
            !genuine(Some(&stored), Some(&stored)),
            "the hash is not the secret"
        );
        assert!(!genuine(None, Some(&stored)));
        assert!(!genuine(Some(&s), None));
    }

    #[test]
    fn validation_tokens_are_echoed_within_a_limit() {
        assert_eq!(
            validation_answer("Validation: abc").unwrap(),
            "Validation: abc"
        );
        assert!(validation_answer("").is_err());
        assert!(validation_answer(&"x".repeat(MAX_VALIDATION_TOKEN + 1)).is_err());
    }
}
