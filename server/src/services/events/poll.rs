//! The polling loop: reads each connector's mailbox changes from its stored cursor (the
//! provider's [`connector_core::changes::MailChanges`]) and writes the news as events, in one
//! transaction with the new cursor, so a change is recorded once or not at all.
//!
//! A connector is polled every `poll_interval`; its first poll comes at a point of the interval
//! that depends on its id, so connectors created together do not poll together. A push
//! notification ([`super::Events::poll_soon`]) moves the next poll to now. A failing poll
//! backs off (doubling, at most an hour); a connector that needs re-authorization is looked at
//! again every ten intervals.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use api_types::events::{CalendarEvent, CalendarEventRef, MessageEvent, MessageRef};
use async_trait::async_trait;
use connector_core::changes::{
    read_calendar, Actions, CalendarChange, CalendarPage, ChangeKind, ChangePage, MailChange,
    MailChanges, MessageSummary, PageKind,
};
use connector_core::{ConnectorError, ErrorCode, Output};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::{db, graph, Events, WRITTEN};
use crate::runtime::ExecuteCall;
use crate::store::events::{now_ms, Claim, Known, NewEvent};
use crate::store::{now, ConnectorRow, STATUS_NEEDS_REAUTH};

/// Woken when a poll is asked for now.
pub(crate) static WAKE: Notify = Notify::const_new();

/// How often the loop looks for connectors that have no stream yet.
const DISCOVER_EVERY: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Connectors with push are polled this many intervals apart.
const PUSHED_FACTOR: i64 = 10;
/// A push subscription (Gmail watch) is renewed this often (Google: daily).
const RENEW_PUSH: Duration = Duration::from_secs(24 * 3600);
/// After a failed push setup, the next try.
const RETRY_PUSH: Duration = Duration::from_secs(300);

/// How long a poll that failed `failures` times in a row waits: one interval, doubling with
/// each further failure, at most an hour; at least what a throttling provider asked for. (It
/// used to start at twice the interval or two seconds, whichever was more: with the tests'
/// short intervals a few transient failures under load pushed the next poll out by tens of
/// seconds.)
fn failure_wait(interval: Duration, failures: i64, retry_after: Option<Duration>) -> i64 {
    let interval = interval.as_millis().max(1) as i64;
    let doubled = interval.saturating_mul(1 << (failures - 1).clamp(0, 20));
    let asked = retry_after.map_or(0, |d| d.as_millis() as i64);
    doubled.min(MAX_BACKOFF.as_millis() as i64).max(asked)
}

/// When to renew a push subscription that expires at `expires_at` (unix seconds): after two
/// thirds of its time left, and at least daily.
fn renew_at(now_ms: i64, expires_at: Option<i64>) -> i64 {
    let daily = now_ms + RENEW_PUSH.as_millis() as i64;
    match expires_at {
        Some(at) => daily.min(now_ms + (at * 1000 - now_ms).max(0) * 2 / 3),
        None => daily,
    }
}

/// Runs until aborted.
pub async fn run(events: Arc<Events>) {
    let mut discovered = tokio::time::Instant::now() - DISCOVER_EVERY;
    loop {
        let woken = WAKE.notified();
        if discovered.elapsed() >= DISCOVER_EVERY {
            if let Err(e) = events.discover().await {
                tracing::error!(error = %e, "looking for connectors to poll failed");
            }
            discovered = tokio::time::Instant::now();
        }
        match events.poll_once().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "polling round failed"),
        }
        let _ = tokio::time::timeout(events.config.tick, woken).await;
    }
}

/// A connector's actions, run by the server's runtime (stored credentials, refresh lock).
struct RowActions<'a> {
    events: &'a Events,
    row: &'a ConnectorRow,
}

#[async_trait]
impl Actions for RowActions<'_> {
    async fn run(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> connector_core::Result<Output> {
        self.events
            .runtime
            .execute(
                self.row,
                ExecuteCall {
                    entity: entity.into(),
                    action: action.into(),
                    params,
                    idempotency_key: None,
                },
            )
            .await
    }
}

/// The event a change makes, given what the connector's events already told.
fn decide(change: &MailChange, known: Option<&Known>) -> Option<&'static str> {
    let live = known.filter(|k| !k.deleted);
    let new_kind = if change.sent {
        "message.sent"
    } else {
        "message.received"
    };
    match change.kind {
        ChangeKind::Added | ChangeKind::Present => match live {
            None => Some(new_kind),
            // A state never seen (a baseline listed only the id) is learnt without an event.
            Some(k)
                if k.version.is_some()
                    && change.version.is_some()
                    && k.version != change.version =>
            {
                Some("message.updated")
            }
            Some(_) => None,
        },
        ChangeKind::Changed => match known {
            Some(k) if k.deleted => None,
            Some(k) if k.version == change.version => None,
            // The provider says it changed: an event even when the old state was not known.
            _ => Some("message.updated"),
        },
        ChangeKind::Deleted => match known {
            Some(k) if k.deleted => None,
            _ => Some("message.deleted"),
        },
    }
}

/// The event a calendar change makes, given what the connector's events already told.
fn decide_calendar(change: &CalendarChange, known: Option<&Known>) -> Option<&'static str> {
    let live = known.filter(|k| !k.deleted);
    match change.kind {
        ChangeKind::Deleted => live.map(|_| "event.deleted"),
        _ => match live {
            None => Some("event.created"),
            Some(k) if k.version.is_some() && k.version != change.version => Some("event.updated"),
            Some(_) => None,
        },
    }
}

/// The `event_messages` key of a calendar event (apart from message ids).
fn calendar_key(event_id: &str) -> String {
    format!("calendar:{event_id}")
}

/// A calendar grant is held back this long after the provider refused the calendar.
const CALENDAR_REFUSED: Duration = Duration::from_secs(3600);
/// A failing calendar read is tried again after this many intervals (mail goes on).
const CALENDAR_FAILED_FACTOR: i64 = 10;

/// The calendar part of a feed event, from the connector's record.
fn calendar_ref(event_id: &str, record: &Value) -> CalendarEventRef {
    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
    let obj = |k: &str| record.get(k).filter(|v| v.is_object()).cloned();
    let summary = text("summary");
    let location = text("location");
    let untrusted_fields = [("/summary", &summary), ("/location", &location)]
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(p, _)| p.to_string())
        .collect();
    CalendarEventRef {
        id: event_id.to_string(),
        calendar_id: "primary".into(),
        series_id: text("series_id"),
        status: text("status"),
        summary,
        location,
        start: obj("start"),
        end: obj("end"),
        organizer: record
            .pointer("/organizer/email")
            .and_then(Value::as_str)
            .map(str::to_string),
        untrusted_fields,
    }
}

/// The stable id of the `n`-th event about a message.
fn event_id(connector_id: &str, epoch: i64, message_id: &str, n: i64) -> String {
    let mut h = Sha256::new();
    h.update(connector_id.as_bytes());
    if epoch > 0 {
        h.update(format!("#{epoch}").as_bytes());
    }
    h.update([0]);
    h.update(message_id.as_bytes());
    h.update([0]);
    h.update(n.to_string().as_bytes());
    format!("evt_{}", &hex::encode(h.finalize())[..32])
}

/// Where the first poll of a connector falls in the interval.
fn spread(connector_id: &str, interval: Duration) -> i64 {
    let h = Sha256::digest(connector_id.as_bytes());
    let n = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    (n % (interval.as_millis().max(1) as u64)) as i64
}

impl Events {
    /// Connector types whose provider reports changes.
    fn polled_types(&self) -> Vec<&'static str> {
        self.registry
            .all()
            .iter()
            .filter(|t| t.descriptor.changes.is_some())
            .map(|t| t.descriptor.name)
            .collect()
    }

    /// Gives every connector of a polled type a stream with a first poll time.
    pub async fn discover(&self) -> Result<usize, sqlx::Error> {
        let types = self.polled_types();
        let found = self.store.connectors_without_polling(&types).await?;
        let t = now_ms();
        for (id, org) in &found {
            let at = t + spread(id, self.config.poll_interval);
            self.store.ensure_stream(id, org, Some(at)).await?;
        }
        Ok(found.len())
    }

    /// Polls these connectors now (their first poll: the baseline, and push when it is on).
    pub async fn poll_first(&self, org: &str, ids: &[String]) -> Result<(), sqlx::Error> {
        let t = now_ms();
        for id in ids {
            self.store.ensure_stream(id, org, Some(t)).await?;
        }
        self.poll_once().await.map(|_| ())
    }

    /// One round: claims due streams and polls them; how many.
    pub async fn poll_once(&self) -> Result<usize, sqlx::Error> {
        let t = now_ms();
        let lease = self.config.lease.as_millis() as i64;
        let claims = self
            .store
            .claim_polls(&self.owner, t, t + lease, self.config.batch)
            .await?;
        let n = claims.len();
        futures::future::join_all(claims.into_iter().map(|c| self.poll(c))).await;
        Ok(n)
    }

    async fn poll(&self, claim: Claim) {
        let interval = self.config.poll_interval.as_millis() as i64;
        let result = self.poll_inner(&claim).await;
        let (at, failures, error) = match result {
            Ok(()) => return,
            Err(Stop::Gone) => (None, 0, None),
            Err(Stop::Later(factor)) => (Some(now_ms() + interval * factor), 0, None),
            Err(Stop::Failed(e)) => {
                let failures = claim.poll_failures + 1;
                let wait = failure_wait(self.config.poll_interval, failures, e.retry_after);
                tracing::warn!(connector_id = %claim.connector_id, code = %e.code, failures, "polling the mailbox failed; will try again");
                (Some(now_ms() + wait), failures, Some(e.message.clone()))
            }
        };
        if let Err(e) = self
            .store
            .release_poll(
                &claim.connector_id,
                &self.owner,
                at,
                failures,
                error.as_deref(),
            )
            .await
        {
            tracing::error!(connector_id = %claim.connector_id, error = %e, "releasing a poll failed; its lease runs out");
        }
    }

    async fn poll_inner(&self, claim: &Claim) -> Result<(), Stop> {
        let row = self
            .store
            .get_connector(&claim.organization_id, &claim.connector_id)
            .await
            .map_err(|e| Stop::Failed(db(e)))?
            .ok_or(Stop::Gone)?;
        let source = self
            .registry
            .get(&row.connector_type)
            .and_then(|t| t.descriptor.changes)
            .ok_or(Stop::Gone)?;
        if row.status == STATUS_NEEDS_REAUTH {
            return Err(Stop::Later(10));
        }
        let api = RowActions {
            events: self,
            row: &row,
        };
        let page = source
            .read(&api, claim.cursor.as_deref())
            .await
            .map_err(Stop::Failed)?;
        let calendar = self.read_calendar(claim, &row, source, &api).await;
        self.record(claim, &row, source, &api, page, calendar)
            .await
            .map_err(Stop::Failed)?;
        if claim.push_renew_at_ms.is_none_or(|at| at <= now_ms()) {
            self.keep_push(&row, source, &api).await;
        }
        Ok(())
    }

    /// The calendar's changes since its cursor, when the type has calendars, the grant
    /// includes the calendar and it is not held back. A calendar that fails does not fail the
    /// poll: mail goes on, and the calendar is held back (an hour when the provider refuses
    /// it, e.g. a mail-only grant whose scopes the server did not know; ten intervals
    /// otherwise), so a grant without the calendar never loops on errors.
    async fn read_calendar(
        &self,
        claim: &Claim,
        row: &ConnectorRow,
        source: &dyn MailChanges,
        api: &dyn Actions,
    ) -> Option<CalendarPage> {
        let follow = source.calendar()?;
        if claim.calendar_retry_at_ms.is_some_and(|at| at > now_ms()) {
            return None;
        }
        if let Some(granted) = &row.scopes {
            if !self.calendar_granted(&row.connector_type, granted) {
                return None;
            }
        }
        match read_calendar(api, follow, claim.calendar_cursor.as_deref()).await {
            Ok(page) => Some(page),
            Err(e) => {
                let wait = if e.code == ErrorCode::PermissionDenied {
                    tracing::info!(connector_id = %row.id, "the grant does not include the calendar; calendar events wait for a new consent");
                    CALENDAR_REFUSED.as_millis() as i64
                } else {
                    tracing::warn!(connector_id = %row.id, code = %e.code, "reading the calendar failed; mail polling goes on");
                    failure_wait(self.config.poll_interval, 1, e.retry_after)
                        .max(self.config.poll_interval.as_millis() as i64 * CALENDAR_FAILED_FACTOR)
                };
                if let Err(e) = self
                    .store
                    .set_calendar_retry(&row.id, Some(now_ms() + wait))
                    .await
                {
                    tracing::error!(connector_id = %row.id, error = %e, "storing the calendar's retry time failed");
                }
                None
            }
        }
    }

    /// Whether `granted` (the connector's scopes) lets `events.sync` run.
    fn calendar_granted(&self, connector_type: &str, granted: &str) -> bool {
        let Some(kind) = self.registry.get(connector_type) else {
            return false;
        };
        let Some(action) = kind
            .spec
            .entities
            .get("events")
            .and_then(|e| e.actions.get("sync"))
        else {
            return false;
        };
        action.scopes.iter().any(|s| {
            crate::oauth::provider::missing_scopes(kind, std::slice::from_ref(s), granted)
                .is_empty()
        })
    }

    /// Writes the news of a calendar page as events, with its cursor, in the mail's
    /// transaction.
    async fn record_calendar(
        &self,
        tx: &mut crate::store::events::EventTx,
        claim: &Claim,
        row: &ConnectorRow,
        page: &CalendarPage,
        deliver: bool,
    ) -> Result<(), ConnectorError> {
        let mut listed = HashSet::new();
        for c in &page.changes {
            let key = calendar_key(&c.event_id);
            listed.insert(key.clone());
            let k = tx.known(&key).await.map_err(db)?;
            if page.kind == PageKind::Baseline {
                if c.kind != ChangeKind::Deleted {
                    let changes = k.map(|k| k.changes).unwrap_or(0);
                    let version = c.version.clone();
                    let known = Known {
                        version,
                        deleted: false,
                        changes,
                    };
                    tx.put_known(&key, &known).await.map_err(db)?;
                }
                continue;
            }
            let Some(kind) = decide_calendar(c, k.as_ref()) else {
                continue;
            };
            let n = k.as_ref().map(|k| k.changes).unwrap_or(0) + 1;
            let deleted = kind == "event.deleted";
            let version = if deleted {
                k.as_ref().and_then(|k| k.version.clone())
            } else {
                c.version.clone()
            };
            tx.put_known(
                &key,
                &Known {
                    version,
                    deleted,
                    changes: n,
                },
            )
            .await
            .map_err(db)?;
            let body = calendar_ref(&c.event_id, &c.event);
            self.append_calendar(tx, row, kind, body, (n, claim.epoch), deliver)
                .await?;
        }
        if page.kind == (PageKind::Resync { complete: true }) {
            for key in tx.live_calendar().await.map_err(db)? {
                if listed.contains(&key) {
                    continue;
                }
                let k = tx.known(&key).await.map_err(db)?.expect("listed as known");
                let n = k.changes + 1;
                tx.put_known(
                    &key,
                    &Known {
                        version: k.version.clone(),
                        deleted: true,
                        changes: n,
                    },
                )
                .await
                .map_err(db)?;
                let id = key.strip_prefix("calendar:").unwrap_or(&key);
                let body = calendar_ref(id, &Value::Null);
                self.append_calendar(tx, row, "event.deleted", body, (n, claim.epoch), deliver)
                    .await?;
            }
        }
        tx.set_calendar_cursor(&page.cursor).await.map_err(db)
    }

    async fn append_calendar(
        &self,
        tx: &mut crate::store::events::EventTx,
        row: &ConnectorRow,
        kind: &str,
        event: CalendarEventRef,
        (n, epoch): (i64, i64),
        deliver: bool,
    ) -> Result<(), ConnectorError> {
        let id = event_id(&row.id, epoch, &calendar_key(&event.id), n);
        if tx.has_event(&id).await.map_err(db)? {
            return Ok(());
        }
        let seq = tx.next_seq();
        let body = CalendarEvent {
            id: id.clone(),
            kind: kind.to_string(),
            created_at: now(),
            organization_id: row.organization_id.clone(),
            connector_id: row.id.clone(),
            customer_name: Some(row.customer_name.clone()),
            connector_type: row.connector_type.clone(),
            sequence: seq,
            event,
        };
        let body = serde_json::to_string(&body).expect("an event serializes");
        tx.insert(NewEvent {
            id: &id,
            kind,
            body: &body,
            seq,
            deliver,
        })
        .await
        .map_err(db)
    }

    /// Writes the news of a page (and of the calendar's page) as events, with the new cursors
    /// (one transaction).
    async fn record(
        &self,
        claim: &Claim,
        row: &ConnectorRow,
        source: &dyn MailChanges,
        api: &dyn Actions,
        page: ChangePage,
        calendar: Option<CalendarPage>,
    ) -> Result<(), ConnectorError> {
        let org = &row.organization_id;
        let settings = self.store.org_settings(org).await.map_err(db)?;
        let deliver = settings.webhook_url.is_some();
        let with_body = settings.event_bodies;
        // Summaries of messages that will be news, read before the transaction.
        let ids: Vec<String> = page.changes.iter().map(|c| c.message_id.clone()).collect();
        let known: HashMap<String, Known> = self
            .store
            .known_messages(&row.id, &ids)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
        let mut summaries: HashMap<String, MessageSummary> = HashMap::new();
        if page.kind != PageKind::Baseline {
            let mut need = Vec::new();
            for c in &page.changes {
                let new = matches!(c.kind, ChangeKind::Added | ChangeKind::Present)
                    && known.get(&c.message_id).is_none_or(|k| k.deleted);
                if new && (c.summary.is_none() || with_body) && !need.contains(&c.message_id) {
                    need.push(c.message_id.clone());
                }
            }
            for chunk in need.chunks(100) {
                let got = source.summaries(api, chunk, with_body).await?;
                for (id, s) in chunk.iter().zip(got) {
                    if let Some(s) = s {
                        summaries.insert(id.clone(), s);
                    }
                }
            }
        }
        let Some(mut tx) = self
            .store
            .begin_events(&row.id, org, Some(&self.owner))
            .await
            .map_err(db)?
        else {
            tracing::warn!(connector_id = %row.id, "poll lease lost; another replica polls this connector");
            return Ok(());
        };
        let listed: HashSet<&str> = page.changes.iter().map(|c| c.message_id.as_str()).collect();
        for c in &page.changes {
            if page.kind != PageKind::Baseline {
                // Context store: every change is re-read and applied there (idempotent).
                tx.mark_context_dirty(&c.message_id).await.map_err(db)?;
            }
            let k = tx.known(&c.message_id).await.map_err(db)?;
            if page.kind == PageKind::Baseline {
                let version = c.version.clone();
                let changes = k.map(|k| k.changes).unwrap_or(0);
                tx.put_known(
                    &c.message_id,
                    &Known {
                        version,
                        deleted: false,
                        changes,
                    },
                )
                .await
                .map_err(db)?;
                continue;
            }
            let Some(kind) = decide(c, k.as_ref()) else {
                // No news, but a state learnt (after a baseline that listed only ids).
                if let Some(k) =
                    k.filter(|k| !k.deleted && c.version.is_some() && k.version != c.version)
                {
                    let learnt = Known {
                        version: c.version.clone(),
                        ..k
                    };
                    tx.put_known(&c.message_id, &learnt).await.map_err(db)?;
                }
                continue;
            };
            let n = k.as_ref().map(|k| k.changes).unwrap_or(0) + 1;
            let deleted = kind == "message.deleted";
            let version = if deleted {
                k.as_ref().and_then(|k| k.version.clone())
            } else {
                c.version.clone()
            };
            tx.put_known(
                &c.message_id,
                &Known {
                    version,
                    deleted,
                    changes: n,
                },
            )
            .await
            .map_err(db)?;
            let summary = summaries.get(&c.message_id).or(c.summary.as_ref());
            self.append(&mut tx, row, kind, c, summary, (n, claim.epoch), deliver)
                .await?;
        }
        if page.kind == (PageKind::Resync { complete: true }) {
            // Known messages absent from a complete listing were deleted while the cursor was
            // expired.
            for id in tx.live_messages().await.map_err(db)? {
                if listed.contains(id.as_str()) {
                    continue;
                }
                tx.mark_context_dirty(&id).await.map_err(db)?;
                let k = tx.known(&id).await.map_err(db)?.expect("listed as known");
                let n = k.changes + 1;
                tx.put_known(
                    &id,
                    &Known {
                        version: k.version.clone(),
                        deleted: true,
                        changes: n,
                    },
                )
                .await
                .map_err(db)?;
                let gone = MailChange {
                    kind: ChangeKind::Deleted,
                    message_id: id,
                    thread_id: None,
                    labels: Vec::new(),
                    version: None,
                    sent: false,
                    summary: None,
                };
                self.append(
                    &mut tx,
                    row,
                    "message.deleted",
                    &gone,
                    None,
                    (n, claim.epoch),
                    deliver,
                )
                .await?;
            }
        }
        if let Some(cal) = &calendar {
            self.record_calendar(&mut tx, claim, row, cal, deliver)
                .await?;
        }
        let more = page.more || calendar.as_ref().is_some_and(|c| c.more);
        let written = tx.written();
        // With push, polls are only a safety net.
        let factor = if claim.push_kind.is_some() {
            PUSHED_FACTOR
        } else {
            1
        };
        let next = if more {
            now_ms()
        } else {
            now_ms() + self.config.poll_interval.as_millis() as i64 * factor
        };
        tx.commit(Some((&page.cursor, next, claim.push_seq)))
            .await
            .map_err(db)?;
        if written > 0 {
            tracing::info!(connector_id = %row.id, events = written, kind = ?page.kind, "mailbox changes recorded");
            WRITTEN.notify_waiters();
        }
        if more {
            WAKE.notify_waiters();
        }
        Ok(())
    }

    /// Starts or renews the connector's push subscription when push is on for its type and
    /// the last one is due for renewal. The renewal is claimed in the database (one replica
    /// does it); after a new subscription or a renewal the connector is polled once more, so
    /// that changes between this poll's read and the subscription are read too.
    async fn keep_push(&self, row: &ConnectorRow, source: &dyn MailChanges, api: &dyn Actions) {
        let Some(mut target) = self.push_target(&row.connector_type) else {
            return;
        };
        let now = now_ms();
        let retry = now + RETRY_PUSH.as_millis() as i64;
        let claimed = match self.store.claim_push_renewal(&row.id, now, retry).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(connector_id = %row.id, error = %e, "claiming the push renewal failed");
                return;
            }
        };
        let current = match claimed {
            (Some(kind), Some(id)) if kind == row.connector_type => Some(id),
            _ => None,
        };
        // A subscription made now gets a secret of its own (Graph's clientState).
        let secret = target.notification_url.is_some().then(graph::new_secret);
        target.client_state = secret.clone();
        let started = match &current {
            Some(id) => source.renew_push(api, &target, id).await,
            None => source.start_push(api, &target).await,
        };
        let push = match started {
            Ok(Some(push)) => push,
            Ok(None) => {
                let at = now_ms() + RENEW_PUSH.as_millis() as i64;
                if let Err(e) = self.store.set_push_renewal(&row.id, None, at).await {
                    tracing::error!(connector_id = %row.id, error = %e, "storing the push renewal time failed");
                }
                return;
            }
            Err(e) => {
                tracing::warn!(connector_id = %row.id, code = %e.code, "starting the push subscription failed; polling goes on");
                return;
            }
        };
        let made = push.id != current;
        let hash = secret.filter(|_| made).map(|s| graph::secret_hash(&s));
        let stored = self
            .store
            .set_push(
                &row.id,
                &row.connector_type,
                push.id.as_deref(),
                push.expires_at,
                renew_at(now_ms(), push.expires_at),
                hash.as_deref(),
            )
            .await
            .and(self.store.poll_soon(&row.id, now_ms()).await);
        match stored {
            Ok(_) => {
                tracing::info!(connector_id = %row.id, expires_at = ?push.expires_at, renewed = !made, "push subscription kept");
                WAKE.notify_waiters();
            }
            Err(e) => {
                tracing::error!(connector_id = %row.id, error = %e, "storing the push subscription failed")
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        tx: &mut crate::store::events::EventTx,
        row: &ConnectorRow,
        kind: &str,
        c: &MailChange,
        summary: Option<&MessageSummary>,
        (n, epoch): (i64, i64),
        deliver: bool,
    ) -> Result<(), ConnectorError> {
        let id = event_id(&row.id, epoch, &c.message_id, n);
        if tx.has_event(&id).await.map_err(db)? {
            return Ok(());
        }
        let seq = tx.next_seq();
        let event = MessageEvent {
            id: id.clone(),
            kind: kind.to_string(),
            created_at: now(),
            organization_id: row.organization_id.clone(),
            connector_id: row.id.clone(),
            customer_name: Some(row.customer_name.clone()),
            connector_type: row.connector_type.clone(),
            sequence: seq,
            message: MessageRef {
                id: c.message_id.clone(),
                thread_id: c.thread_id.clone(),
                labels: c.labels.clone(),
                from: summary.and_then(|s| s.from.clone()),
                subject: summary.and_then(|s| s.subject.clone()),
                snippet: summary.and_then(|s| s.snippet.clone()),
                body_text: summary.and_then(|s| s.body_text.clone()),
            },
        };
        let body = serde_json::to_string(&event).expect("an event serializes");
        tx.insert(NewEvent {
            id: &id,
            kind,
            body: &body,
            seq,
            deliver,
        })
        .await
        .map_err(db)
    }
}

/// Why a poll ended without recording.
enum Stop {
    /// The connector or its type is gone: no more polls.
    Gone,
    /// Look again after this many intervals.
    Later(i64),
    Failed(ConnectorError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: ChangeKind, version: Option<&str>) -> MailChange {
        MailChange {
            kind,
            message_id: "m".into(),
            thread_id: None,
            labels: vec![],
            version: version.map(str::to_string),
            sent: false,
            summary: None,
        }
    }

    fn known(version: &str, deleted: bool) -> Known {
        Known {
            version: Some(version.into()),
            deleted,
            changes: 1,
        }
    }

    #[test]
    fn a_change_already_told_makes_no_event() {
        let v1 = known("a", false);
        assert_eq!(
            decide(&change(ChangeKind::Added, Some("a")), None),
            Some("message.received")
        );
        assert_eq!(
            decide(&change(ChangeKind::Added, Some("a")), Some(&v1)),
            None
        );
        assert_eq!(
            decide(&change(ChangeKind::Present, Some("a")), Some(&v1)),
            None
        );
        assert_eq!(
            decide(&change(ChangeKind::Present, Some("b")), Some(&v1)),
            Some("message.updated")
        );
        assert_eq!(
            decide(&change(ChangeKind::Changed, Some("a")), Some(&v1)),
            None
        );
        assert_eq!(
            decide(&change(ChangeKind::Changed, Some("b")), None),
            Some("message.updated")
        );
        assert_eq!(
            decide(&change(ChangeKind::Deleted, None), Some(&v1)),
            Some("message.deleted")
        );
        assert_eq!(
            decide(&change(ChangeKind::Deleted, None), Some(&known("a", true))),
            None
        );
        let mut sent = change(ChangeKind::Added, Some("SENT"));
        sent.sent = true;
        assert_eq!(decide(&sent, None), Some("message.sent"));
    }

    #[test]
    fn a_calendar_change_already_told_makes_no_event() {
        let c = |kind, version: Option<&str>| CalendarChange {
            kind,
            event_id: "e".into(),
            version: version.map(str::to_string),
            event: Value::Null,
        };
        let v1 = known("a", false);
        let gone = known("a", true);
        let present = |v| c(ChangeKind::Present, Some(v));
        assert_eq!(decide_calendar(&present("a"), None), Some("event.created"));
        assert_eq!(
            decide_calendar(&present("a"), Some(&gone)),
            Some("event.created")
        );
        assert_eq!(decide_calendar(&present("a"), Some(&v1)), None);
        assert_eq!(
            decide_calendar(&present("b"), Some(&v1)),
            Some("event.updated")
        );
        let deleted = c(ChangeKind::Deleted, None);
        assert_eq!(decide_calendar(&deleted, Some(&v1)), Some("event.deleted"));
        assert_eq!(decide_calendar(&deleted, Some(&gone)), None);
        assert_eq!(
            decide_calendar(&deleted, None),
            None,
            "made and removed between two polls: nothing to tell"
        );
        assert_ne!(
            event_id("c", 0, &calendar_key("m"), 1),
            event_id("c", 0, "m", 1),
            "a calendar event and a message with the same id are apart"
        );
    }

    #[test]
    fn event_ids_are_stable_per_message_and_change_number() {
        assert_eq!(event_id("c", 0, "m", 1), event_id("c", 0, "m", 1));
        assert_ne!(event_id("c", 0, "m", 1), event_id("c", 0, "m", 2));
        assert_ne!(event_id("c", 0, "m", 1), event_id("d", 0, "m", 1));
        assert_ne!(event_id("c", 0, "m", 1), event_id("c", 1, "m", 1));
        assert!(event_id("c", 0, "m", 1).starts_with("evt_"));
    }

    #[test]
    fn a_failing_poll_waits_one_interval_then_doubling_up_to_an_hour() {
        let i = Duration::from_millis(150);
        let waits: Vec<i64> = (1..=5).map(|n| failure_wait(i, n, None)).collect();
        assert_eq!(waits, [150, 300, 600, 1200, 2400]);
        let minute = Duration::from_secs(60);
        assert_eq!(failure_wait(minute, 1, None), 60_000);
        assert_eq!(failure_wait(minute, 40, None), 3_600_000);
        assert_eq!(
            failure_wait(i, 1, Some(Duration::from_secs(30))),
            30_000,
            "a provider's Retry-After is honoured"
        );
    }

    #[test]
    fn push_subscriptions_are_renewed_after_two_thirds_of_their_time_and_at_least_daily() {
        let now = 1_000_000_000;
        assert_eq!(renew_at(now, Some(now / 1000 + 3)), now + 2000);
        assert_eq!(
            renew_at(now, Some(now / 1000 + 3 * 86_400)),
            now + 86_400_000
        );
        assert_eq!(renew_at(now, None), now + 86_400_000);
        assert_eq!(renew_at(now, Some(0)), now, "an expired one at once");
    }

    #[test]
    fn first_polls_spread_over_the_interval() {
        let i = Duration::from_secs(60);
        let spots: HashSet<i64> = (0..100)
            .map(|n| spread(&format!("c{n}"), i) / 1000)
            .collect();
        assert!(spots.len() > 30, "{spots:?}");
        assert!(spots.iter().all(|s| *s < 60));
    }
}
