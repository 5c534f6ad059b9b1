//! The delivery loop: claims streams with events due, and POSTs each stream's events to the
//! organization's webhook one at a time, in order. A refused or failed attempt sets the event's
//! next attempt (backoff from [`super::EventsConfig::backoff`]) in the database and leaves the
//! stream: later events of the connector wait behind it, other connectors go on. After
//! `max_attempts` the event is `dead` (listed by the API, sent again on request) and the
//! stream moves on.
//!
//! Headers: `X-Connectors-Event-Id`, `X-Connectors-Event-Type`, and with a webhook secret
//! `X-Connectors-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use std::sync::Arc;
use std::time::Duration;

use super::{Events, WRITTEN};
use crate::lifecycle::webhook::{sign, SIGNATURE_HEADER};
use crate::store::events::{now_ms, Claim, Pending};
use crate::store::now;

/// Runs until aborted.
pub async fn run(events: Arc<Events>) {
    loop {
        let notified = WRITTEN.notified();
        match events.deliver_once().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "event delivery round failed"),
        }
        let _ = tokio::time::timeout(events.config.tick, notified).await;
    }
}

/// What one attempt came to.
enum Outcome {
    Delivered,
    Failed(String),
    /// No webhook (any more): the event stays in the feed only.
    NoWebhook,
}

impl Events {
    /// One round: claims due streams and delivers what is due on them; how many streams.
    pub async fn deliver_once(&self) -> Result<usize, sqlx::Error> {
        let t = now_ms();
        let claims = self
            .store
            .claim_deliveries(&self.owner, t, t + lease_ms(self), self.config.batch)
            .await?;
        let n = claims.len();
        futures::future::join_all(claims.into_iter().map(|c| self.deliver_stream(c))).await;
        Ok(n)
    }

    async fn deliver_stream(&self, claim: Claim) {
        if let Err(e) = self.deliver_stream_inner(&claim).await {
            tracing::error!(connector_id = %claim.connector_id, error = %e, "delivering a connector's events failed; the lease runs out and the stream is taken up again");
        }
    }

    async fn deliver_stream_inner(&self, claim: &Claim) -> Result<(), sqlx::Error> {
        let id = &claim.connector_id;
        let mut gen = claim.gen;
        loop {
            let head = self.store.head_pending(id).await?;
            let due = match &head {
                None => None,
                Some(p) if p.next_attempt_at_ms > now_ms() => Some(p.next_attempt_at_ms),
                Some(_) => Some(0),
            };
            if due != Some(0) {
                if self
                    .store
                    .release_delivery(id, &self.owner, gen, due)
                    .await?
                {
                    return Ok(());
                }
                // Events were written since the claim: look again.
                gen = self.store.stream_gen(id).await?;
                continue;
            }
            let head = head.expect("due");
            let outcome = self.attempt(&claim.organization_id, &head).await;
            let attempts = head.attempts + 1;
            let lease = now_ms() + lease_ms(self);
            let (state, next, error) = match outcome {
                Outcome::Delivered => ("delivered", now_ms(), None),
                Outcome::NoWebhook => ("none", now_ms(), None),
                Outcome::Failed(why) if attempts >= self.config.max_attempts => {
                    tracing::error!(event_id = %head.id, attempts, "webhook delivery given up: the event is dead until redelivered");
                    ("dead", now_ms(), Some(why))
                }
                Outcome::Failed(why) => {
                    let wait = backoff(&self.config.backoff, attempts);
                    ("pending", now_ms() + wait.as_millis() as i64, Some(why))
                }
            };
            let held = self
                .store
                .record_attempt(
                    id,
                    head.seq,
                    &self.owner,
                    lease,
                    state,
                    attempts,
                    next,
                    error.as_deref(),
                )
                .await?;
            if !held {
                tracing::warn!(connector_id = %id, "delivery lease lost; another replica goes on");
                return Ok(());
            }
        }
    }

    async fn attempt(&self, org: &str, event: &Pending) -> Outcome {
        let settings = match self.store.org_settings(org).await {
            Ok(s) => s,
            Err(e) => return Outcome::Failed(format!("reading the webhook settings: {e}")),
        };
        let Some(url) = settings.webhook_url else {
            return Outcome::NoWebhook;
        };
        let secret = match &settings.webhook_secret {
            Some(blob) => match self.vault.decrypt(org, blob).await {
                Ok(s) => Some(s),
                Err(_) => return Outcome::Failed("the webhook secret does not decrypt".into()),
            },
            None => None,
        };
        let body = event.body.clone().into_bytes();
        let mut req = self
            .http
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Connectors-Event-Id", &event.id)
            .header("X-Connectors-Event-Type", &event.kind);
        if let Some(secret) = &secret {
            req = req.header(SIGNATURE_HEADER, sign(secret, now(), &body));
        }
        match req.body(body).send().await {
            Ok(r) if r.status().is_success() => {
                tracing::info!(event_id = %event.id, attempt = event.attempts + 1, "event delivered");
                Outcome::Delivered
            }
            Ok(r) => {
                let status = r.status().as_u16();
                tracing::warn!(event_id = %event.id, status, "webhook refused the event; will retry");
                Outcome::Failed(format!("HTTP {status}"))
            }
            Err(e) => {
                let why = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect error"
                } else {
                    "request error"
                };
                tracing::warn!(event_id = %event.id, error = why, "webhook delivery failed; will retry");
                Outcome::Failed(why.into())
            }
        }
    }
}

fn lease_ms(events: &Events) -> i64 {
    events.config.lease.as_millis() as i64
}

/// The wait after the `attempts`-th failed attempt.
fn backoff(steps: &[Duration], attempts: i64) -> Duration {
    let i = (attempts.max(1) - 1) as usize;
    steps
        .get(i)
        .or(steps.last())
        .copied()
        .unwrap_or(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_steps_and_repeats_the_last() {
        let s = [Duration::from_secs(1), Duration::from_secs(5)];
        assert_eq!(backoff(&s, 1), Duration::from_secs(1));
        assert_eq!(backoff(&s, 2), Duration::from_secs(5));
        assert_eq!(backoff(&s, 9), Duration::from_secs(5));
    }
}
