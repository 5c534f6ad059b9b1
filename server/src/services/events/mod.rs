//! Events (issue 20): mailbox changes and connector status changes, written to an outbox in the
//! database, delivered to the organization's webhook and readable as a feed.
//!
//! - **Model**: [`api_types::Event`]; message events carry a stable id (the same change seen
//!   twice gets the same id), the connector and provider ids, the thread and a short summary.
//! - **Order**: each connector's events have a sequence number 1, 2, 3, ... given under the
//!   connector's stream row lock ([`crate::store::events`]); the feed and the webhook follow it.
//! - **Delivery** ([`deliver`]): at least once, in order per connector, signed like the status
//!   webhook has always been ([`crate::lifecycle::webhook::sign`]); a failing endpoint is retried
//!   with backoff from the database (a restart loses nothing), then the event is `dead` until
//!   redelivered on request.
//! - **Polling** ([`poll`]): history / delta from a stored cursor, spread over the interval.
//! - **Push** ([`push`]: Gmail through Pub/Sub; [`graph`]: Graph change notifications): a
//!   verified notification makes the connector's next poll now.
//! - **Replicas**: polls and deliveries are claimed through leases on the stream rows
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL); a replica that dies loses its leases when they
//!   run out and another one takes the work over.

pub mod deliver;
pub mod graph;
pub mod poll;
pub mod push;

use std::sync::Arc;
use std::time::Duration;

use api_types::events::{
    DeliveryList, DeliveryView, Event, EventFeed, EventStatus, StatusChangedEvent, STATUS_CHANGED,
};
use connector_core::{ConnectorError, ErrorCode};
use tokio::sync::Notify;

use crate::lifecycle::webhook::StatusEvent;
use crate::registry::Registry;
use crate::runtime::Runtime;
use crate::store::events::NewEvent;
use crate::store::{new_id, now, Store};
use crate::vault::Vault;

/// Woken whenever this process writes events (feeds waiting, the delivery loop).
pub(crate) static WRITTEN: Notify = Notify::const_new();

/// Longest wait of a long-polling feed request.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Most events in one feed answer.
pub const MAX_FEED: i64 = 500;

/// Polling and delivery settings.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Between two polls of one connector (zero: no polling).
    pub poll_interval: Duration,
    /// Waits before the 2nd, 3rd, ... delivery attempt (the last repeats).
    pub backoff: Vec<Duration>,
    /// Attempts before an event is `dead`.
    pub max_attempts: i64,
    /// How long a claimed poll or delivery stays claimed without progress.
    pub lease: Duration,
    /// How often the loops look for due work (and at once when events are written here).
    pub tick: Duration,
    /// Streams claimed per round.
    pub batch: i64,
    /// One webhook attempt at most.
    pub attempt_timeout: Duration,
    /// Gmail push through Pub/Sub, when configured.
    pub gmail_push: Option<push::GmailPushConfig>,
    /// Graph change notifications for Outlook, when configured.
    pub outlook_push: Option<graph::OutlookPushConfig>,
}

impl Default for EventsConfig {
    fn default() -> EventsConfig {
        EventsConfig {
            poll_interval: Duration::from_secs(60),
            backoff: [1, 5, 30, 120, 600, 1800, 3600]
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            // About nine hours of retries.
            max_attempts: 15,
            lease: Duration::from_secs(60),
            tick: Duration::from_millis(200),
            batch: 32,
            attempt_timeout: Duration::from_secs(10),
            gmail_push: None,
            outlook_push: None,
        }
    }
}

/// The events service (one per server).
pub struct Events {
    store: Store,
    vault: Vault,
    registry: Arc<Registry>,
    runtime: Arc<Runtime>,
    config: EventsConfig,
    /// This process's name on leases.
    owner: String,
    http: reqwest::Client,
    /// Per connector type: where its push subscriptions point.
    push_targets:
        std::sync::RwLock<std::collections::HashMap<String, connector_core::changes::PushTarget>>,
    /// Verifies Gmail's Pub/Sub pushes.
    google: std::sync::RwLock<Option<Arc<push::GooglePush>>>,
}

/// The background loops; dropping it stops them.
pub struct Workers(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

impl Events {
    pub fn new(
        store: Store,
        vault: Vault,
        registry: Arc<Registry>,
        runtime: Arc<Runtime>,
        config: EventsConfig,
    ) -> Events {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.attempt_timeout)
            .build()
            .expect("the HTTP client builds");
        let gmail_push = config.gmail_push.clone();
        let outlook_push = config.outlook_push.clone();
        let events = Events {
            store,
            vault,
            registry,
            runtime,
            config,
            owner: format!("srv-{}", uuid::Uuid::new_v4().simple()),
            http,
            push_targets: Default::default(),
            google: Default::default(),
        };
        if let Some(g) = gmail_push {
            events.enable_gmail_push(g);
        }
        if let Some(o) = outlook_push {
            events.enable_outlook_push(o);
        }
        events
    }

    pub fn config(&self) -> &EventsConfig {
        &self.config
    }

    /// Starts the delivery loop and (when the interval is not zero) the polling loop.
    pub fn spawn(self: &Arc<Self>) -> Workers {
        let mut handles = vec![tokio::spawn(deliver::run(self.clone()))];
        if !self.config.poll_interval.is_zero() {
            handles.push(tokio::spawn(poll::run(self.clone())));
        }
        Workers(handles)
    }

    /// The connector's events after `after` (oldest first); waits up to `wait` (at most
    /// [`MAX_WAIT`]) for one when there is none yet.
    pub async fn feed(
        &self,
        org: &str,
        connector_id: &str,
        after: Option<&str>,
        types: &[String],
        limit: Option<i64>,
        wait: Duration,
    ) -> Result<EventFeed, ConnectorError> {
        let after = match after.filter(|a| !a.is_empty()) {
            None => 0,
            Some(a) => a.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ConnectorError::invalid_params(
                    "`after` is a cursor from a previous answer's next_cursor (or 0)",
                )
            })?,
        };
        let limit = limit.unwrap_or(100).clamp(1, MAX_FEED);
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            let notified = WRITTEN.notified();
            let rows = self
                .store
                .events_after(org, connector_id, after, types, limit)
                .await
                .map_err(db)?;
            if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
                let next = rows.last().map(|(s, _)| *s).unwrap_or(after);
                let data = rows
                    .iter()
                    .map(|(_, body)| serde_json::from_str::<Event>(body))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        ConnectorError::internal("a stored event does not decode").with_source(e)
                    })?;
                return Ok(EventFeed {
                    data,
                    next_cursor: next.to_string(),
                });
            }
            // Events written by this process wake the wait at once; another replica's within
            // the re-read interval.
            let step = (deadline - tokio::time::Instant::now()).min(Duration::from_millis(250));
            let _ = tokio::time::timeout(step, notified).await;
        }
    }

    /// Deliveries of the connector's events in `state` (default `dead`).
    pub async fn deliveries(
        &self,
        org: &str,
        connector_id: &str,
        state: Option<&str>,
    ) -> Result<DeliveryList, ConnectorError> {
        let state = state.unwrap_or("dead");
        if !["pending", "delivered", "dead", "none"].contains(&state) {
            return Err(ConnectorError::invalid_params(
                "`state` is one of pending, delivered, dead, none",
            ));
        }
        let rows = self
            .store
            .deliveries(org, connector_id, state, 1000)
            .await
            .map_err(db)?;
        Ok(DeliveryList {
            data: rows
                .into_iter()
                .map(|r| DeliveryView {
                    event_id: r.id,
                    sequence: r.seq,
                    kind: r.kind,
                    state: r.delivery,
                    attempts: r.attempts,
                    last_error: r.last_error,
                    created_at: r.created_at,
                })
                .collect(),
        })
    }

    /// Puts dead events back in the delivery queue (all of the connector's, or those named).
    pub async fn redeliver(
        &self,
        org: &str,
        connector_id: &str,
        ids: Option<&[String]>,
    ) -> Result<u64, ConnectorError> {
        let n = self
            .store
            .redeliver(org, connector_id, ids)
            .await
            .map_err(db)?;
        WRITTEN.notify_waiters();
        Ok(n)
    }

    /// Asks for an immediate poll of a connector (after a push notification): the request is
    /// in the database when this returns.
    pub async fn poll_soon(&self, connector_id: &str) -> Result<bool, ConnectorError> {
        let done = self
            .store
            .poll_soon(connector_id, crate::store::events::now_ms())
            .await
            .map_err(db)?;
        poll::WAKE.notify_waiters();
        Ok(done)
    }
}

/// Writes a status change to the outbox (delivered by whichever replica's loop claims it). A
/// `needs_reauth` event carries a fresh reconnect link (origin `public_url`); `active` and
/// `deleted` void the connector's links.
pub async fn record_status(
    store: &Store,
    event: &StatusEvent,
    public_url: &str,
) -> Result<(), ConnectorError> {
    let status = |s: &str| match s {
        "active" => Some(EventStatus::Active),
        "needs_reauth" => Some(EventStatus::NeedsReauth),
        "deleted" => Some(EventStatus::Deleted),
        _ => None,
    };
    let Some(new_status) = status(&event.status) else {
        return Err(ConnectorError::internal("an unknown connector status"));
    };
    let link = match new_status {
        // The event goes out even when no link can be made (the connector is gone already).
        EventStatus::NeedsReauth => match crate::services::reconnect::mint(
            store,
            &event.organization_id,
            &event.connector_id,
            public_url,
        )
        .await
        {
            Ok(link) => Some(link),
            Err(e) => {
                tracing::warn!(connector_id = %event.connector_id, code = %e.code.as_str(), "no reconnect link for the status event");
                None
            }
        },
        EventStatus::Active | EventStatus::Deleted => {
            store
                .void_reconnect_links(&event.connector_id)
                .await
                .map_err(db)?;
            None
        }
    };
    let mut tx = store
        .begin_events(&event.connector_id, &event.organization_id, None)
        .await
        .map_err(db)?
        .ok_or_else(|| ConnectorError::internal("the event stream vanished"))?;
    let seq = tx.next_seq();
    let deliver = tx.webhook();
    let id = format!("evt_{}", new_id().replace('-', ""));
    let body = StatusChangedEvent {
        id: id.clone(),
        kind: STATUS_CHANGED.into(),
        created_at: now(),
        organization_id: event.organization_id.clone(),
        connector_id: event.connector_id.clone(),
        customer_name: event.customer_name.clone(),
        connector_type: event.connector_type.clone(),
        status: new_status,
        previous_status: event.previous_status.as_deref().and_then(status),
        reason: event.reason.clone(),
        sequence: Some(seq),
        reconnect_expires_at: link.as_ref().map(|l| l.expires_at),
        reconnect_url: link.map(|l| l.reconnect_url),
    };
    let body = serde_json::to_string(&body).expect("an event serializes");
    tx.insert(NewEvent {
        id: &id,
        kind: STATUS_CHANGED,
        body: &body,
        seq,
        deliver,
    })
    .await
    .map_err(db)?;
    tx.commit(None).await.map_err(db)?;
    WRITTEN.notify_waiters();
    Ok(())
}

pub(crate) fn db(e: sqlx::Error) -> ConnectorError {
    ConnectorError::new(ErrorCode::Internal, "the database failed; try again").with_source(e)
}
