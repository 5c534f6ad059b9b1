//! Events (issue 20): per-connector streams with their leases, the outbox that is also the feed,
//! and the messages each connector's events have told about. The logic is
//! [`crate::services::events`]'s; this module holds the SQL.
//!
//! Work that replicas share is claimed with one statement that moves a lease: on PostgreSQL the
//! candidate rows are picked `FOR UPDATE SKIP LOCKED`, so two replicas claiming at once take
//! different streams; SQLite (one process) runs the same statement without the clause. Events
//! of a connector are written in a transaction that first updates the connector's stream row,
//! so writers of one connector queue on that row and `seq` grows without gaps in commit order.

use sqlx::{Any, Row, Transaction};

use super::{now, Backend, Store};

/// A claimed stream.
#[derive(Debug, Clone)]
pub struct Claim {
    pub connector_id: String,
    pub organization_id: String,
    pub cursor: Option<String>,
    pub gen: i64,
    pub poll_failures: i64,
    pub push_kind: Option<String>,
    pub push_renew_at_ms: Option<i64>,
    pub push_seq: i64,
    pub epoch: i64,
    /// The calendar's next `events.sync` call (None: not followed yet).
    pub calendar_cursor: Option<String>,
    /// The calendar is held back until then.
    pub calendar_retry_at_ms: Option<i64>,
}

/// The first undelivered event of a stream.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
}

/// An event's delivery state (the API's dead-letter view).
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub seq: i64,
    pub kind: String,
    pub delivery: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// What events have told about one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub version: Option<String>,
    pub deleted: bool,
    pub changes: i64,
}

/// A new event.
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// The body with its `sequence` still to fill in: built by the caller from the seq it gets.
    pub body: &'a str,
    pub seq: i64,
    /// Whether a webhook will get it.
    pub deliver: bool,
}

const STREAM_COLUMNS: &str = "connector_id, organization_id, next_seq, gen, deliver_at_ms, \
    deliver_owner, deliver_lease_until_ms, cursor, poll_at_ms, poll_owner, poll_lease_until_ms, \
    poll_failures, poll_error, push_kind, push_id, push_expires_at, push_renew_at_ms, updated_at";

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Creates the stream of a connector unless it exists; `poll_at_ms` when it is to be polled.
    pub async fn ensure_stream(
        &self,
        connector_id: &str,
        organization_id: &str,
        poll_at_ms: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO event_streams ({STREAM_COLUMNS}) VALUES ($1, $2, 0, 0, NULL, NULL, 0, \
             NULL, $3, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, $4) \
             ON CONFLICT (connector_id) DO NOTHING"
        ))
        .bind(connector_id)
        .bind(organization_id)
        .bind(poll_at_ms)
        .bind(now())
        .execute(&self.pool)
        .await?;
        if poll_at_ms.is_some() {
            sqlx::query(
                "UPDATE event_streams SET poll_at_ms = $1 WHERE connector_id = $2 \
                 AND poll_at_ms IS NULL AND cursor IS NULL AND poll_failures = 0",
            )
            .bind(poll_at_ms)
            .bind(connector_id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Connectors of these types that have no polled stream yet: (id, organization).
    pub async fn connectors_without_polling(
        &self,
        types: &[&str],
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let list = (1..=types.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT c.id, c.organization_id FROM connectors c LEFT JOIN event_streams s \
             ON s.connector_id = c.id WHERE c.connector_type IN ({list}) \
             AND (s.connector_id IS NULL OR (s.poll_at_ms IS NULL AND s.cursor IS NULL \
             AND s.poll_failures = 0))"
        );
        let mut q = sqlx::query(&sql);
        for t in types {
            q = q.bind(*t);
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("id"), r.get("organization_id")))
            .collect())
    }

    fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// Claims up to `limit` streams due for polling (lease until `lease_until_ms`).
    pub async fn claim_polls(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Claim>, sqlx::Error> {
        let sql = format!(
            "UPDATE event_streams SET poll_owner = $1, poll_lease_until_ms = $2 \
             WHERE connector_id IN (SELECT connector_id FROM event_streams \
             WHERE poll_at_ms IS NOT NULL AND poll_at_ms <= $3 AND poll_lease_until_ms < $3 \
             ORDER BY poll_at_ms LIMIT $4{}) \
             RETURNING connector_id, organization_id, cursor, gen, poll_failures, push_kind, \
             push_renew_at_ms, push_seq, epoch, calendar_cursor, calendar_retry_at_ms",
            self.skip_locked()
        );
        self.claim(&sql, owner, now_ms, lease_until_ms, limit).await
    }

    /// Claims up to `limit` streams with deliveries due (lease until `lease_until_ms`).
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Claim>, sqlx::Error> {
        let sql = format!(
            "UPDATE event_streams SET deliver_owner = $1, deliver_lease_until_ms = $2 \
             WHERE connector_id IN (SELECT connector_id FROM event_streams \
             WHERE deliver_at_ms IS NOT NULL AND deliver_at_ms <= $3 \
             AND deliver_lease_until_ms < $3 ORDER BY deliver_at_ms LIMIT $4{}) \
             RETURNING connector_id, organization_id, cursor, gen, poll_failures, push_kind, \
             push_renew_at_ms, push_seq, epoch, calendar_cursor, calendar_retry_at_ms",
            self.skip_locked()
        );
        self.claim(&sql, owner, now_ms, lease_until_ms, limit).await
    }

    async fn claim(
        &self,
        sql: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Claim>, sqlx::Error> {
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(lease_until_ms)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Claim {
                connector_id: r.get("connector_id"),
                organization_id: r.get("organization_id"),
                cursor: r.get("cursor"),
                gen: r.get("gen"),
                poll_failures: r.get("poll_failures"),
                push_kind: r.get("push_kind"),
                push_renew_at_ms: r.get("push_renew_at_ms"),
                push_seq: r.get("push_seq"),
                epoch: r.get("epoch"),
                calendar_cursor: r.get("calendar_cursor"),
                calendar_retry_at_ms: r.get("calendar_retry_at_ms"),
            })
            .collect())
    }

    /// Ends a poll lease that found nothing to record (or failed): next poll at `poll_at_ms`.
    pub async fn release_poll(
        &self,
        connector_id: &str,
        owner: &str,
        poll_at_ms: Option<i64>,
        failures: i64,
        error: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE event_streams SET poll_owner = NULL, poll_lease_until_ms = 0, \
             poll_at_ms = $1, poll_failures = $2, poll_error = $3, updated_at = $4 \
             WHERE connector_id = $5 AND poll_owner = $6",
        )
        .bind(poll_at_ms)
        .bind(failures)
        .bind(error)
        .bind(now())
        .bind(connector_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Asks for a poll of the connector now (a push notification arrived); false when the
    /// connector has no polled stream.
    pub async fn poll_soon(&self, connector_id: &str, at_ms: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE event_streams SET poll_at_ms = $1 WHERE connector_id = $2 \
             AND (poll_at_ms IS NULL OR poll_at_ms > $1) AND (cursor IS NOT NULL OR poll_at_ms IS NOT NULL)",
        )
        .bind(at_ms)
        .bind(connector_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the connector's push subscription (`kind` names the provider, `id` what its
    /// notifications name the mailbox by), to renew at `renew_at_ms`; `secret_hash` replaces
    /// the stored hash of the subscription's secret when given (a new subscription).
    pub async fn set_push(
        &self,
        connector_id: &str,
        kind: &str,
        id: Option<&str>,
        expires_at: Option<i64>,
        renew_at_ms: i64,
        secret_hash: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE event_streams SET push_kind = $1, push_id = $2, push_expires_at = $3, \
             push_renew_at_ms = $4, push_secret = COALESCE($5, push_secret) WHERE connector_id = $6",
        )
        .bind(kind)
        .bind(id)
        .bind(expires_at)
        .bind(renew_at_ms)
        .bind(secret_hash)
        .bind(connector_id)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Claims the renewal of the connector's push subscription when it is due, so that one
    /// replica does it: the renewal time moves to `retry_at_ms` (the next try should this one
    /// fail). The subscription as stored, `(kind, id)`, or None when it is not due.
    pub async fn claim_push_renewal(
        &self,
        connector_id: &str,
        now_ms: i64,
        retry_at_ms: i64,
    ) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE event_streams SET push_renew_at_ms = $1 WHERE connector_id = $2 \
             AND (push_renew_at_ms IS NULL OR push_renew_at_ms <= $3) RETURNING push_kind, push_id",
        )
        .bind(retry_at_ms)
        .bind(connector_id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get("push_kind"), r.get("push_id"))))
    }

    /// When to try the push subscription again (it could not be set up).
    pub async fn set_push_renewal(
        &self,
        connector_id: &str,
        kind: Option<&str>,
        renew_at_ms: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE event_streams SET push_kind = $1, push_renew_at_ms = $2 WHERE connector_id = $3",
        )
        .bind(kind)
        .bind(renew_at_ms)
        .bind(connector_id)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// The streams whose push subscription of `kind` is `id`, with the hash of its secret:
    /// `(connector id, secret hash)`.
    pub async fn push_secrets(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT connector_id, push_secret FROM event_streams \
             WHERE push_kind = $1 AND push_id = $2",
        )
        .bind(kind)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("connector_id"), r.get("push_secret")))
            .collect())
    }

    /// A verified push for one stream: polled at `at_ms` (also when a poll runs now: `push_seq`);
    /// with `renew`, its push subscription is renewed then too, and with `forget` it is
    /// gone and made anew. False when the stream is not polled.
    pub async fn push_for_stream(
        &self,
        connector_id: &str,
        at_ms: i64,
        renew: bool,
        forget: bool,
    ) -> Result<bool, sqlx::Error> {
        let sql = format!(
            "UPDATE event_streams SET poll_at_ms = $1, push_seq = push_seq + 1{}{} \
             WHERE connector_id = $2 AND poll_at_ms IS NOT NULL",
            if renew { ", push_renew_at_ms = $1" } else { "" },
            if forget { ", push_id = NULL" } else { "" },
        );
        let done = sqlx::query(&sql)
            .bind(at_ms)
            .bind(connector_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A push named a mailbox: every stream following it is polled at `at_ms`; how many.
    pub async fn poll_pushed(&self, kind: &str, id: &str, at_ms: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE event_streams SET poll_at_ms = $1, push_seq = push_seq + 1 \
             WHERE push_kind = $2 AND push_id = $3 AND poll_at_ms IS NOT NULL",
        )
        .bind(at_ms)
        .bind(kind)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The first event of the stream that still waits for its webhook.
    pub async fn head_pending(&self, connector_id: &str) -> Result<Option<Pending>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT seq, id, kind, body, attempts, next_attempt_at_ms FROM events \
             WHERE connector_id = $1 AND delivery = 'pending' ORDER BY seq LIMIT 1",
        )
        .bind(connector_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Pending {
            seq: r.get("seq"),
            id: r.get("id"),
            kind: r.get("kind"),
            body: r.get("body"),
            attempts: r.get("attempts"),
            next_attempt_at_ms: r.get("next_attempt_at_ms"),
        }))
    }

    /// Records a delivery attempt's outcome while the lease is held (and extends it); false
    /// when the lease was lost.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_attempt(
        &self,
        connector_id: &str,
        seq: i64,
        owner: &str,
        lease_until_ms: i64,
        delivery: &str,
        attempts: i64,
        next_attempt_at_ms: i64,
        error: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(
            "UPDATE event_streams SET deliver_lease_until_ms = $1 \
             WHERE connector_id = $2 AND deliver_owner = $3",
        )
        .bind(lease_until_ms)
        .bind(connector_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let delivered_at = (delivery == "delivered").then(now);
        sqlx::query(
            "UPDATE events SET delivery = $1, attempts = $2, next_attempt_at_ms = $3, \
             last_error = $4, delivered_at = $5 WHERE connector_id = $6 AND seq = $7",
        )
        .bind(delivery)
        .bind(attempts)
        .bind(next_attempt_at_ms)
        .bind(error)
        .bind(delivered_at)
        .bind(connector_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a delivery lease: the stream is due again at `deliver_at_ms` (None: nothing
    /// pending). Only when no event was written since the claim (`gen`); false otherwise, and
    /// the lease is kept for the caller to look again.
    pub async fn release_delivery(
        &self,
        connector_id: &str,
        owner: &str,
        gen: i64,
        deliver_at_ms: Option<i64>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE event_streams SET deliver_owner = NULL, deliver_lease_until_ms = 0, \
             deliver_at_ms = $1 WHERE connector_id = $2 AND deliver_owner = $3 AND gen = $4",
        )
        .bind(deliver_at_ms)
        .bind(connector_id)
        .bind(owner)
        .bind(gen)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The stream's current `gen` (after a failed release).
    pub async fn stream_gen(&self, connector_id: &str) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT gen FROM event_streams WHERE connector_id = $1")
            .bind(connector_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get("gen"))
    }

    /// Events of a connector after `after`, oldest first, of these types (all when empty):
    /// (seq, body).
    pub async fn events_after(
        &self,
        organization_id: &str,
        connector_id: &str,
        after: i64,
        types: &[String],
        limit: i64,
    ) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let filter = if types.is_empty() {
            String::new()
        } else {
            let list = (5..types.len() + 5)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(" AND kind IN ({list})")
        };
        let sql = format!(
            "SELECT seq, body FROM events WHERE organization_id = $1 AND connector_id = $2 \
             AND seq > $3{filter} ORDER BY seq LIMIT $4"
        );
        let mut q = sqlx::query(&sql)
            .bind(organization_id)
            .bind(connector_id)
            .bind(after)
            .bind(limit);
        for t in types {
            q = q.bind(t);
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get("seq"), r.get("body"))).collect())
    }

    /// Deliveries of a connector's events in a state (`dead`, `pending`, ...), oldest first.
    pub async fn deliveries(
        &self,
        organization_id: &str,
        connector_id: &str,
        delivery: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, seq, kind, delivery, attempts, last_error, created_at FROM events \
             WHERE organization_id = $1 AND connector_id = $2 AND delivery = $3 \
             ORDER BY seq LIMIT $4",
        )
        .bind(organization_id)
        .bind(connector_id)
        .bind(delivery)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| DeliveryRow {
                id: r.get("id"),
                seq: r.get("seq"),
                kind: r.get("kind"),
                delivery: r.get("delivery"),
                attempts: r.get("attempts"),
                last_error: r.get("last_error"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    /// Puts dead events (all of the connector's, or those named) back in the queue; how many.
    pub async fn redeliver(
        &self,
        organization_id: &str,
        connector_id: &str,
        ids: Option<&[String]>,
    ) -> Result<u64, sqlx::Error> {
        let t = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE event_streams SET gen = gen + 1, deliver_at_ms = $1 \
             WHERE connector_id = $2 AND organization_id = $3",
        )
        .bind(t)
        .bind(connector_id)
        .bind(organization_id)
        .execute(&mut *tx)
        .await?;
        let mut n = 0;
        let base = "UPDATE events SET delivery = 'pending', attempts = 0, \
             next_attempt_at_ms = $1, last_error = NULL WHERE organization_id = $2 \
             AND connector_id = $3 AND delivery = 'dead'";
        match ids {
            None => {
                n += sqlx::query(base)
                    .bind(t)
                    .bind(organization_id)
                    .bind(connector_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            Some(ids) => {
                for id in ids {
                    n += sqlx::query(&format!("{base} AND id = $4"))
                        .bind(t)
                        .bind(organization_id)
                        .bind(connector_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Forgets the provider cursor and the messages seen (the connector now points at another
    /// mailbox, e.g. a sandbox emulator started afresh): the next poll starts a new baseline.
    /// A poll lease is dropped too: a poll of the old mailbox still running (or left by a
    /// process that died mid-poll, whose lease would hold the stream for a minute) can no
    /// longer write, since its events and cursor need the lease ([`Store::begin_events`]).
    pub async fn reset_stream(&self, connector_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE event_streams SET cursor = NULL, poll_at_ms = $1, poll_failures = 0, \
             poll_owner = NULL, poll_lease_until_ms = 0, \
             poll_error = NULL, push_kind = NULL, push_id = NULL, push_renew_at_ms = NULL, \
             calendar_cursor = NULL, calendar_retry_at_ms = NULL, epoch = epoch + 1 \
             WHERE connector_id = $2",
        )
        .bind(now_ms())
        .bind(connector_id)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM event_messages WHERE connector_id = $1")
            .bind(connector_id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Holds the connector's calendar back until `at_ms` (None: follow it at every poll).
    pub async fn set_calendar_retry(
        &self,
        connector_id: &str,
        at_ms: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE event_streams SET calendar_retry_at_ms = $1 WHERE connector_id = $2")
            .bind(at_ms)
            .bind(connector_id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// The stream's calendar cursor (None: the calendar is not followed yet).
    pub async fn calendar_cursor(&self, connector_id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT calendar_cursor FROM event_streams WHERE connector_id = $1")
            .bind(connector_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.get("calendar_cursor")))
    }

    /// The stream's provider cursor (None: not polled yet).
    pub async fn stream_cursor(&self, connector_id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT cursor FROM event_streams WHERE connector_id = $1")
            .bind(connector_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.get("cursor")))
    }

    /// Whether the organization wants message bodies in its events.
    pub async fn event_bodies(&self, organization_id: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT event_bodies FROM org_settings WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some_and(|r| r.get::<i64, _>("event_bodies") != 0))
    }

    pub async fn set_event_bodies(
        &self,
        organization_id: &str,
        on: bool,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE org_settings SET event_bodies = $1 WHERE organization_id = $2")
            .bind(i64::from(on))
            .bind(organization_id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// What events have told about these messages (those it knows).
    pub async fn known_messages(
        &self,
        connector_id: &str,
        ids: &[String],
    ) -> Result<Vec<(String, Known)>, sqlx::Error> {
        let mut out = Vec::new();
        for chunk in ids.chunks(200) {
            let list = (2..chunk.len() + 2)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT message_id, version, deleted, changes FROM event_messages \
                 WHERE connector_id = $1 AND message_id IN ({list})"
            );
            let mut q = sqlx::query(&sql).bind(connector_id);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push((r.get("message_id"), known(&r)));
            }
        }
        Ok(out)
    }

    /// Starts writing events of a connector: locks its stream row (creating it) and returns the
    /// transaction with the next sequence number. With `owner`, only while that poll lease is
    /// held (`None` from here: the lease was lost).
    pub async fn begin_events(
        &self,
        connector_id: &str,
        organization_id: &str,
        owner: Option<&str>,
    ) -> Result<Option<EventTx>, sqlx::Error> {
        let found = self
            .lock_stream(connector_id, organization_id, owner)
            .await?;
        if found.is_some() || owner.is_some() {
            return Ok(found);
        }
        // The connector's first event: create its stream, then lock it. (Creating it on every
        // call was one more write per event: an approval's, a status change's.)
        self.ensure_stream(connector_id, organization_id, None)
            .await?;
        self.lock_stream(connector_id, organization_id, None).await
    }

    /// [`Store::begin_events`] on an existing stream row: `None` when there is none (or, with
    /// `owner`, when that poll lease is not held).
    async fn lock_stream(
        &self,
        connector_id: &str,
        organization_id: &str,
        owner: Option<&str>,
    ) -> Result<Option<EventTx>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row = match owner {
            Some(owner) => {
                sqlx::query(
                    "UPDATE event_streams SET gen = gen + 1 WHERE connector_id = $1 \
                     AND poll_owner = $2 RETURNING next_seq, (SELECT webhook_url \
                     FROM org_settings WHERE organization_id = $3) AS webhook_url",
                )
                .bind(connector_id)
                .bind(owner)
                .bind(organization_id)
                .fetch_optional(&mut *tx)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE event_streams SET gen = gen + 1 WHERE connector_id = $1 \
                     RETURNING next_seq, (SELECT webhook_url FROM org_settings \
                     WHERE organization_id = $2) AS webhook_url",
                )
                .bind(connector_id)
                .bind(organization_id)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        Ok(Some(EventTx {
            tx,
            connector_id: connector_id.to_string(),
            organization_id: organization_id.to_string(),
            next_seq: row.get::<i64, _>("next_seq") + 1,
            first_seq: row.get::<i64, _>("next_seq") + 1,
            deliver: false,
            webhook: row.get::<Option<String>, _>("webhook_url").is_some(),
        }))
    }
}

fn known(r: &sqlx::any::AnyRow) -> Known {
    Known {
        version: r.get("version"),
        deleted: r.get::<i64, _>("deleted") != 0,
        changes: r.get("changes"),
    }
}

/// Events of one connector being written (see [`Store::begin_events`]).
pub struct EventTx {
    tx: Transaction<'static, Any>,
    connector_id: String,
    organization_id: String,
    next_seq: i64,
    first_seq: i64,
    deliver: bool,
    /// The organization has a webhook URL: read by the statement that locks the stream, so
    /// knowing whether events are for delivery costs no statement of its own.
    webhook: bool,
}

impl EventTx {
    /// The transaction, for rows that must commit with these events (an approval and its
    /// event).
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Whether the organization has a webhook (read in this transaction): its events are
    /// written for delivery.
    pub fn webhook(&self) -> bool {
        self.webhook
    }

    /// The sequence number the next event gets.
    pub fn next_seq(&self) -> i64 {
        self.next_seq
    }

    pub async fn known(&mut self, message_id: &str) -> Result<Option<Known>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT version, deleted, changes FROM event_messages \
             WHERE connector_id = $1 AND message_id = $2",
        )
        .bind(&self.connector_id)
        .bind(message_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.as_ref().map(known))
    }

    pub async fn put_known(&mut self, message_id: &str, k: &Known) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO event_messages (connector_id, message_id, version, deleted, changes) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector_id, message_id) DO UPDATE \
             SET version = $3, deleted = $4, changes = $5",
        )
        .bind(&self.connector_id)
        .bind(message_id)
        .bind(&k.version)
        .bind(i64::from(k.deleted))
        .bind(k.changes)
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
    }

    /// Message ids the connector's events know and have not seen deleted.
    pub async fn live_messages(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT message_id FROM event_messages WHERE connector_id = $1 AND deleted = 0 \
             AND message_id NOT LIKE 'calendar:%'",
        )
        .bind(&self.connector_id)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.iter().map(|r| r.get("message_id")).collect())
    }

    /// Calendar event ids the connector's events know and have not seen deleted (their
    /// `event_messages` keys, `calendar:<id>`).
    pub async fn live_calendar(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT message_id FROM event_messages WHERE connector_id = $1 AND deleted = 0 \
             AND message_id LIKE 'calendar:%'",
        )
        .bind(&self.connector_id)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.iter().map(|r| r.get("message_id")).collect())
    }

    /// Stores the calendar's next cursor with these events (and follows it from now on).
    pub async fn set_calendar_cursor(&mut self, cursor: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE event_streams SET calendar_cursor = $1, calendar_retry_at_ms = NULL \
             WHERE connector_id = $2",
        )
        .bind(cursor)
        .bind(&self.connector_id)
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
    }

    /// Appends an event (its `seq` must be [`EventTx::next_seq`]).
    pub async fn insert(&mut self, e: NewEvent<'_>) -> Result<(), sqlx::Error> {
        debug_assert_eq!(e.seq, self.next_seq);
        let t = now_ms();
        sqlx::query(
            "INSERT INTO events (connector_id, seq, id, organization_id, kind, body, created_at, \
             delivery, attempts, next_attempt_at_ms, last_error, delivered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, NULL, NULL)",
        )
        .bind(&self.connector_id)
        .bind(e.seq)
        .bind(e.id)
        .bind(&self.organization_id)
        .bind(e.kind)
        .bind(e.body)
        .bind(t / 1000)
        .bind(if e.deliver { "pending" } else { "none" })
        .bind(t)
        .execute(&mut *self.tx)
        .await?;
        self.next_seq += 1;
        self.deliver |= e.deliver;
        Ok(())
    }

    /// Whether an event with this id exists already (a replay of the same change).
    pub async fn has_event(&mut self, id: &str) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query("SELECT 1 FROM events WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?
            .is_some())
    }

    /// Context store hook: marks a message as changed for the connector's replica, when it
    /// has one (the store re-reads and applies it; see [`crate::services::context`]).
    pub async fn mark_context_dirty(&mut self, message_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO context_dirty (connector_id, message_id, n) SELECT $1, $2, 1 \
             WHERE EXISTS (SELECT 1 FROM context_sync WHERE connector_id = $1) \
             ON CONFLICT (connector_id, message_id) DO UPDATE SET n = context_dirty.n + 1",
        )
        .bind(&self.connector_id)
        .bind(message_id)
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
    }

    /// How many events this transaction wrote.
    pub fn written(&self) -> i64 {
        self.next_seq - self.first_seq
    }

    /// Commits the events, and with `poll` the new cursor, the next poll time and the
    /// `push_seq` the poll was claimed with (releasing the poll lease; a push that came since
    /// makes the next poll now).
    pub async fn commit(mut self, poll: Option<(&str, i64, i64)>) -> Result<(), sqlx::Error> {
        let t = now_ms();
        sqlx::query(
            "UPDATE event_streams SET next_seq = $1, updated_at = $2, \
             deliver_at_ms = CASE WHEN $3 = 1 AND (deliver_at_ms IS NULL OR deliver_at_ms > $4) \
             THEN $4 ELSE deliver_at_ms END WHERE connector_id = $5",
        )
        .bind(self.next_seq - 1)
        .bind(t / 1000)
        .bind(i64::from(self.deliver))
        .bind(t)
        .bind(&self.connector_id)
        .execute(&mut *self.tx)
        .await?;
        if let Some((cursor, poll_at_ms, push_seq)) = poll {
            // The next poll: at `poll_at_ms`, or now when a push came during this one, or
            // when the push subscription is due for renewal before then (renewals follow polls).
            sqlx::query(
                "UPDATE event_streams SET cursor = $1, poll_at_ms = CASE WHEN push_seq <> $4 \
                 THEN $5 WHEN push_renew_at_ms > $5 AND push_renew_at_ms < $2 \
                 THEN push_renew_at_ms ELSE $2 END, poll_owner = NULL, poll_lease_until_ms = 0, \
                 poll_failures = 0, poll_error = NULL WHERE connector_id = $3",
            )
            .bind(cursor)
            .bind(poll_at_ms)
            .bind(&self.connector_id)
            .bind(push_seq)
            .bind(t)
            .execute(&mut *self.tx)
            .await?;
        }
        self.tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh SQLite store (in a directory kept as long as the first value) with one
    /// organization.
    async fn store_with_org() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url).await.unwrap();
        let org = store.create_org("acme").await.unwrap().id;
        (dir, store, org)
    }

    /// A process killed mid-poll leaves its lease on the stream for a minute. When the
    /// connector is pointed at a fresh mailbox (the sandbox's emulators after a restart), the
    /// stream is polled at once, and the old poll, were it still running, can no longer write.
    #[tokio::test]
    async fn a_reset_stream_drops_the_poll_lease_of_the_old_mailbox() {
        let (_dir, store, org) = store_with_org().await;
        let t = now_ms();
        store.ensure_stream("c1", &org, Some(t)).await.unwrap();
        let claimed = store.claim_polls("dead", t, t + 60_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        // Held: nobody else gets it while the lease runs.
        assert!(store
            .claim_polls("new", t + 1, t + 60_000, 10)
            .await
            .unwrap()
            .is_empty());

        store.reset_stream("c1").await.unwrap();
        let later = now_ms().max(t + 1);
        let claimed = store
            .claim_polls("new", later, later + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(
            claimed
                .iter()
                .map(|c| c.connector_id.as_str())
                .collect::<Vec<_>>(),
            ["c1"]
        );
        assert!(store
            .begin_events("c1", &org, Some("dead"))
            .await
            .unwrap()
            .is_none());
        assert!(store
            .begin_events("c1", &org, Some("new"))
            .await
            .unwrap()
            .is_some());
    }

    /// Whether events are for delivery is read by the statement that opens their
    /// transaction: no webhook, then one set, then cleared, each seen by the next one.
    #[tokio::test]
    async fn an_event_transaction_knows_whether_the_organization_has_a_webhook() {
        let (_dir, store, org) = store_with_org().await;
        let other = store.create_org("other").await.unwrap().id;
        let t = now_ms();
        store.ensure_stream("c1", &org, Some(t)).await.unwrap();
        let webhook = |owner: Option<&'static str>| {
            let (store, org) = (store.clone(), org.clone());
            async move {
                let tx = store
                    .begin_events("c1", &org, owner)
                    .await
                    .unwrap()
                    .unwrap();
                tx.webhook()
            }
        };
        assert!(!webhook(None).await, "no settings row");
        let mut settings = store.org_settings(&other).await.unwrap();
        settings.webhook_url = Some("https://hooks.example/other".into());
        store.put_org_settings(&other, &settings).await.unwrap();
        assert!(!webhook(None).await, "another organization's webhook");

        let mut settings = store.org_settings(&org).await.unwrap();
        settings.webhook_url = Some("https://hooks.example/acme".into());
        store.put_org_settings(&org, &settings).await.unwrap();
        assert!(webhook(None).await);
        assert_eq!(
            store
                .claim_polls("me", t, t + 60_000, 1)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(webhook(Some("me")).await, "under a poll lease too");

        settings.webhook_url = None;
        store.put_org_settings(&org, &settings).await.unwrap();
        assert!(!webhook(None).await);
    }
}
