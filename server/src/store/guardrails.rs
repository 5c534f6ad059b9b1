//! Guardrails in the database: policy versions per scope (a connector, or the organization's
//! default), approvals (previews sealed by the vault) and the sends the limits count. Every
//! state change of an approval is one compare-and-set `UPDATE`, so replicas agree on it.
//!
//! The latest version of each scope is kept in memory ([`PolicyCache`]): every send would
//! otherwise read it. A change is announced to the other processes on the database like a
//! credential change ([`super::auth`]: PostgreSQL `NOTIFY`, the SQLite marker file), and a
//! cached version is used only under the generation of changes it was read in.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::Row;

use super::events::now_ms;
use super::Store;

/// The windows of the send limits, in ms.
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// A connector's counted sends against two windows (`$1` the connector, `$2` and `$3` the
/// instants the windows start after, unix ms), from its send numbers (`seq`, ascending with
/// `sent_at_ms`; migration 0740): the sends in a window are the newest number minus the
/// window's first plus one, less the forgotten ones in it. Every column is an index seek:
/// `last`/`last_at` (the newest send; 0 when none), `first_a`/`first_b` (NULL: the window is
/// empty), `gone_a`/`gone_b` (forgotten sends in the window, a partial index of the few). A
/// macro, so the statements that use it are literals (`concat!`).
macro_rules! windows_sql {
    () => {
        "SELECT \
         COALESCE((SELECT seq FROM policy_sends WHERE connector_id = $1 ORDER BY seq DESC LIMIT 1), 0) AS last, \
         COALESCE((SELECT sent_at_ms FROM policy_sends WHERE connector_id = $1 ORDER BY seq DESC LIMIT 1), 0) AS last_at, \
         (SELECT seq FROM policy_sends WHERE connector_id = $1 AND sent_at_ms > $2 ORDER BY sent_at_ms, seq LIMIT 1) AS first_a, \
         (SELECT seq FROM policy_sends WHERE connector_id = $1 AND sent_at_ms > $3 ORDER BY sent_at_ms, seq LIMIT 1) AS first_b, \
         (SELECT COUNT(*) FROM policy_sends WHERE connector_id = $1 AND forgotten AND sent_at_ms > $2) AS gone_a, \
         (SELECT COUNT(*) FROM policy_sends WHERE connector_id = $1 AND forgotten AND sent_at_ms > $3) AS gone_b"
    };
}

/// How often [`Store::reserve_send`] counts again after another replica took its number.
const MAX_NUMBER_COLLISIONS: u32 = 64;

/// The scope of an organization's default policy.
pub const ORG_SCOPE: &str = "";

/// One stored version of a policy.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub scope: String,
    pub version: i64,
    /// JSON; `None` when this version removed the policy.
    pub policy: Option<String>,
    pub updated_by: Option<String>,
    pub created_at: i64,
}

/// An approval as stored (`preview` and `link_key` sealed).
#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub id: String,
    pub organization_id: String,
    pub connector_id: String,
    pub content_hash: String,
    pub entity: String,
    pub action: String,
    pub reason: String,
    pub preview: Vec<u8>,
    pub link_key: Vec<u8>,
    /// As stored; see [`ApprovalRow::status_now`].
    pub status: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
}

impl ApprovalRow {
    /// `expired` once the time ran out on a pending or approved (unused) approval.
    pub fn status_now(&self, now_ms: i64) -> &str {
        match self.status.as_str() {
            "pending" | "approved" if self.expires_at_ms <= now_ms => "expired",
            s => s,
        }
    }
}

/// Above this many cached scopes the cache starts over.
const POLICY_CACHE_MAX: usize = 10_000;

/// The latest policy version per `organization\0scope` (`None`: never set), with the
/// [`super::auth::Watch`] generation it was read in.
#[derive(Default)]
pub(crate) struct PolicyCache {
    map: Mutex<HashMap<String, (u64, Option<PolicyRow>)>>,
}

impl PolicyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Option<PolicyRow>)>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &str, generation: u64) -> Option<Option<PolicyRow>> {
        match self.lock().get(key) {
            Some((g, row)) if *g == generation => Some(row.clone()),
            _ => None,
        }
    }

    fn put(&self, key: String, generation: u64, row: Option<PolicyRow>) {
        let mut map = self.lock();
        if map.len() >= POLICY_CACHE_MAX {
            map.clear();
        }
        map.insert(key, (generation, row));
    }
}

const APPROVAL_COLUMNS: &str = "id, organization_id, connector_id, content_hash, entity, action, \
     reason, preview, link_key, status, created_at_ms, expires_at_ms, decided_at_ms, decided_by";

fn approval(r: &sqlx::any::AnyRow) -> ApprovalRow {
    ApprovalRow {
        id: r.get("id"),
        organization_id: r.get("organization_id"),
        connector_id: r.get("connector_id"),
        content_hash: r.get("content_hash"),
        entity: r.get("entity"),
        action: r.get("action"),
        reason: r.get("reason"),
        preview: r.get("preview"),
        link_key: r.get("link_key"),
        status: r.get("status"),
        created_at_ms: r.get("created_at_ms"),
        expires_at_ms: r.get("expires_at_ms"),
        decided_at_ms: r.get("decided_at_ms"),
        decided_by: r.get("decided_by"),
    }
}

fn policy_row(r: &sqlx::any::AnyRow) -> PolicyRow {
    PolicyRow {
        scope: r.get("scope"),
        version: r.get("version"),
        policy: r.get("policy"),
        updated_by: r.get("updated_by"),
        created_at: r.get("created_at"),
    }
}

impl Store {
    /// The latest version of a scope's policy (removed or not): from memory when no change was
    /// announced since it was read ([`Store::changes_seen`]), else from the database.
    pub async fn policy_of(
        &self,
        organization_id: &str,
        scope: &str,
    ) -> Result<Option<PolicyRow>, sqlx::Error> {
        let key = format!("{organization_id}\0{scope}");
        let generation = self.changes_seen();
        if let Some(g) = generation {
            if let Some(row) = self.policies.get(&key, g) {
                return Ok(row);
            }
        }
        let row = self.read_policy(organization_id, scope).await?;
        if let Some(g) = generation {
            // Read under `g`: a change announced meanwhile moved the generation on, so this
            // entry is never used.
            self.policies.put(key, g, row.clone());
        }
        Ok(row)
    }

    async fn read_policy(
        &self,
        organization_id: &str,
        scope: &str,
    ) -> Result<Option<PolicyRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT scope, version, policy, updated_by, created_at FROM policies \
             WHERE organization_id = $1 AND scope = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(organization_id)
        .bind(scope)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(policy_row))
    }

    /// The policy in force for a connector: its own, else the organization's default.
    pub async fn policy_in_force(
        &self,
        organization_id: &str,
        connector_id: &str,
    ) -> Result<Option<PolicyRow>, sqlx::Error> {
        if let Some(own) = self.policy_of(organization_id, connector_id).await? {
            if own.policy.is_some() {
                return Ok(Some(own));
            }
        }
        Ok(self
            .policy_of(organization_id, ORG_SCOPE)
            .await?
            .filter(|p| p.policy.is_some()))
    }

    /// Adds the next version of a scope's policy (`None` removes it), and announces the change
    /// to every process on the database.
    pub async fn set_policy(
        &self,
        organization_id: &str,
        scope: &str,
        policy: Option<&str>,
        updated_by: &str,
    ) -> Result<PolicyRow, sqlx::Error> {
        let created_at = super::now();
        let row = sqlx::query(
            "INSERT INTO policies (organization_id, scope, version, policy, updated_by, created_at) \
             SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 FROM policies \
             WHERE organization_id = $1 AND scope = $2 RETURNING version",
        )
        .bind(organization_id)
        .bind(scope)
        .bind(policy)
        .bind(updated_by)
        .bind(created_at)
        .fetch_one(&self.pool)
        .await?;
        self.changed_here();
        if let Err(e) = self.auth_changed().await {
            // The version is stored; other replicas would keep the old one until their next
            // notification or restart, so the caller hears of it.
            tracing::warn!(error = %e, "announcing a policy change failed");
            return Err(e);
        }
        Ok(PolicyRow {
            scope: scope.to_string(),
            version: row.get("version"),
            policy: policy.map(str::to_string),
            updated_by: Some(updated_by.to_string()),
            created_at,
        })
    }

    /// Sends of a connector since each of two instants (unix ms): `(since_a, since_b)`. Index
    /// seeks only (`windows_sql!`): the cost does not grow with the sends in the windows.
    pub async fn count_sends(
        &self,
        connector_id: &str,
        since_a_ms: i64,
        since_b_ms: i64,
    ) -> Result<(u64, u64), sqlx::Error> {
        let row = sqlx::query(concat!("SELECT * FROM (", windows_sql!(), ") AS c"))
            .bind(connector_id)
            .bind(since_a_ms)
            .bind(since_b_ms)
            .fetch_one(&self.pool)
            .await?;
        let last: i64 = row.try_get("last")?;
        let in_window = |first: &str, gone: &str| -> Result<u64, sqlx::Error> {
            let first: Option<i64> = row.try_get(first)?;
            let gone: i64 = row.try_get(gone)?;
            Ok(first.map_or(0, |f| (last - f + 1 - gone).max(0) as u64))
        };
        Ok((
            in_window("first_a", "gone_a")?,
            in_window("first_b", "gone_b")?,
        ))
    }

    /// Counts a send now unless the connector already has `max_hour` sends in the last hour or
    /// `max_day` in the last day (`None`: no such limit): one statement, so two racing sends
    /// do not both take the last one (on PostgreSQL the second one's number collides with the
    /// first's, and it counts again). `false`: refused, nothing counted.
    pub async fn reserve_send(
        &self,
        id: &str,
        connector_id: &str,
        max_hour: Option<u64>,
        max_day: Option<u64>,
    ) -> Result<bool, sqlx::Error> {
        let max = |m: Option<u64>| m.map_or(i64::MAX, |m| i64::try_from(m).unwrap_or(i64::MAX));
        const SQL: &str = concat!(
            "INSERT INTO policy_sends (id, connector_id, sent_at_ms, seq) \
             SELECT $4, $1, CASE WHEN c.last_at > $5 THEN c.last_at ELSE $5 END, c.last + 1 \
             FROM (",
            windows_sql!(),
            ") AS c \
             WHERE (c.first_a IS NULL OR c.last - c.first_a + 1 - c.gone_a < $6) \
             AND (c.first_b IS NULL OR c.last - c.first_b + 1 - c.gone_b < $7)"
        );
        let mut collisions = 0;
        loop {
            let t = now_ms();
            let done = sqlx::query(SQL)
                .bind(connector_id)
                .bind(t - HOUR_MS)
                .bind(t - DAY_MS)
                .bind(id)
                .bind(t)
                .bind(max(max_hour))
                .bind(max(max_day))
                .execute(&self.pool)
                .await;
            match done {
                Ok(done) => return Ok(done.rows_affected() == 1),
                // Another replica took this number between the count and the insert: the
                // count is stale, so count again (a bounded number of times).
                Err(sqlx::Error::Database(e))
                    if e.is_unique_violation() && collisions < MAX_NUMBER_COLLISIONS =>
                {
                    collisions += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Counts a send whatever the limits.
    pub async fn record_send(&self, id: &str, connector_id: &str) -> Result<(), sqlx::Error> {
        self.reserve_send(id, connector_id, None, None)
            .await
            .map(|_| ())
    }

    /// Drops the connector's counted sends older than a day (no limit counts them).
    pub async fn prune_sends(&self, connector_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM policy_sends WHERE connector_id = $1 AND sent_at_ms < $2")
            .bind(connector_id)
            .bind(now_ms() - DAY_MS)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Takes back a counted send: marked, not deleted, so the connector's numbers stay
    /// contiguous (`windows_sql!` subtracts the marked ones).
    pub async fn forget_send(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE policy_sends SET forgotten = TRUE WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn insert_approval(&self, a: &ApprovalRow) -> Result<(), sqlx::Error> {
        insert_approval_on(&self.pool, a).await
    }

    /// The newest approval of this content on this connector.
    pub async fn latest_approval(
        &self,
        connector_id: &str,
        content_hash: &str,
    ) -> Result<Option<ApprovalRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE connector_id = $1 \
             AND content_hash = $2 ORDER BY created_at_ms DESC, id DESC LIMIT 1"
        ))
        .bind(connector_id)
        .bind(content_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(approval))
    }

    /// An approval of the organization (another organization's is `None`).
    pub async fn approval(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<Option<ApprovalRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE organization_id = $1 AND id = $2"
        ))
        .bind(organization_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(approval))
    }

    /// By id alone (signed links carry the id; the signature proves the organization).
    pub async fn approval_by_id(&self, id: &str) -> Result<Option<ApprovalRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(approval))
    }

    /// The organization's newest approvals (at most 100), optionally of one stored status.
    pub async fn approvals(
        &self,
        organization_id: &str,
        status: Option<&str>,
    ) -> Result<Vec<ApprovalRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE organization_id = $1 \
             AND ($2 = '' OR status = $2) ORDER BY created_at_ms DESC, id DESC LIMIT 100"
        ))
        .bind(organization_id)
        .bind(status.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(approval).collect())
    }

    /// `approved` -> `used` when still in time (compare-and-set), counting the use: the uses
    /// so far with this one, `None` when it was not `approved` any more or expired.
    pub async fn consume_approval(&self, id: &str) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE approvals SET status = 'used', uses = uses + 1 WHERE id = $1 \
             AND status = 'approved' AND expires_at_ms > $2 RETURNING uses",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get("uses")))
    }

    /// `from` -> `to` when the approval is still in time (compare-and-set); `decided_by` is
    /// recorded when given. `false`: it was not `from` any more, or it expired.
    pub async fn move_approval(
        &self,
        id: &str,
        from: &str,
        to: &str,
        decided_by: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        move_approval_on(&self.pool, id, from, to, decided_by, now_ms()).await
    }
}

/// [`Store::insert_approval`] on any executor (the pool, or a transaction that also writes the
/// approval's event).
pub(crate) async fn insert_approval_on<'e>(
    exec: impl sqlx::Executor<'e, Database = sqlx::Any>,
    a: &ApprovalRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO approvals ({APPROVAL_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&a.id)
    .bind(&a.organization_id)
    .bind(&a.connector_id)
    .bind(&a.content_hash)
    .bind(&a.entity)
    .bind(&a.action)
    .bind(&a.reason)
    .bind(&a.preview)
    .bind(&a.link_key)
    .bind(&a.status)
    .bind(a.created_at_ms)
    .bind(a.expires_at_ms)
    .bind(a.decided_at_ms)
    .bind(&a.decided_by)
    .execute(exec)
    .await
    .map(|_| ())
}

/// [`Store::move_approval`] on any executor, at `at_ms` (the decision's time, when decided).
pub(crate) async fn move_approval_on<'e>(
    exec: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
    from: &str,
    to: &str,
    decided_by: Option<&str>,
    at_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = match decided_by {
        Some(by) => {
            sqlx::query(
                "UPDATE approvals SET status = $1, decided_at_ms = $2, decided_by = $3 \
                 WHERE id = $4 AND status = $5 AND expires_at_ms > $2",
            )
            .bind(to)
            .bind(at_ms)
            .bind(by)
            .bind(id)
            .bind(from)
            .execute(exec)
            .await?
        }
        None => {
            sqlx::query(
                "UPDATE approvals SET status = $1 WHERE id = $2 AND status = $3 \
                 AND expires_at_ms > $4",
            )
            .bind(to)
            .bind(id)
            .bind(from)
            .bind(at_ms)
            .execute(exec)
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(url: &str) -> Store {
        Store::open(url).await.unwrap()
    }

    /// The server and the CLI on one SQLite file: the server keeps the policy in memory, and
    /// sees the CLI's change at its next read (the marker), not only after a restart.
    #[tokio::test]
    async fn a_policy_changed_by_another_process_holds_at_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let server = open(&url).await;
        let cli = open(&url).await;
        let org = server.create_org("acme").await.unwrap().id;
        assert!(server.policy_in_force(&org, "c1").await.unwrap().is_none());

        // Kept in memory: a row written behind the server's back, unannounced, is not seen...
        sqlx::query(
            "INSERT INTO policies (organization_id, scope, version, policy, updated_by, created_at) \
             VALUES ($1, 'c1', 1, '{\"mode\":\"read_only\"}', 'sql', 0)",
        )
        .bind(&org)
        .execute(&cli.pool)
        .await
        .unwrap();
        assert!(server.policy_in_force(&org, "c1").await.unwrap().is_none());

        // ...until a change is announced: the CLI's next version holds at once.
        cli.set_policy(&org, "c1", Some("{\"mode\":\"draft_only\"}"), "cli")
            .await
            .unwrap();
        let row = server.policy_in_force(&org, "c1").await.unwrap().unwrap();
        assert_eq!(
            (row.version, row.policy.as_deref()),
            (2, Some("{\"mode\":\"draft_only\"}"))
        );

        // The organization's default, removed by the CLI, and a change made here.
        cli.set_policy(&org, ORG_SCOPE, Some("{}"), "cli")
            .await
            .unwrap();
        assert_eq!(
            server
                .policy_in_force(&org, "c2")
                .await
                .unwrap()
                .unwrap()
                .scope,
            ORG_SCOPE
        );
        cli.set_policy(&org, ORG_SCOPE, None, "cli").await.unwrap();
        assert!(server.policy_in_force(&org, "c2").await.unwrap().is_none());
        server
            .set_policy(&org, "c2", Some("{}"), "api")
            .await
            .unwrap();
        assert_eq!(
            server
                .policy_in_force(&org, "c2")
                .await
                .unwrap()
                .unwrap()
                .scope,
            "c2"
        );
    }
}
