//! A connector's credential columns, and the database lock on them, per backend.
//!
//! - PostgreSQL: `SELECT ... FOR UPDATE` (health checks: `SKIP LOCKED`) in a transaction with
//!   transaction-local `lock_timeout` (waiters give up and re-read), `statement_timeout`, and
//!   `idle_in_transaction_session_timeout` (a holder that hangs instead of dying is cut off).
//! - SQLite: a write transaction, started with a no-op UPDATE of the row (SQLite's write lock is
//!   database wide; waiters give up after the pool's busy timeout and re-read).
//!
//! The lock lives exactly as long as the transaction, so a process that dies holding it
//! releases it with its connection: nothing is left to clean up.

use sqlx::{Any, Row as _, Transaction};

use super::{now, Backend, Row, Store};

pub type Tx = Transaction<'static, Any>;

/// A connector that works.
pub const STATUS_ACTIVE: &str = "active";
/// A connector whose end user must authorize again.
pub const STATUS_NEEDS_REAUTH: &str = "needs_reauth";

/// The credential columns of one connector.
#[derive(Clone)]
pub struct CredRow {
    pub id: String,
    pub organization_id: String,
    pub customer_name: String,
    pub connector_type: String,
    pub credentials: Vec<u8>,
    pub credentials_version: i64,
    pub token_url: Option<String>,
    /// The scopes the last consent or refresh granted (space-separated), when known.
    pub scopes: Option<String>,
    pub status: String,
    pub last_refresh_at: Option<i64>,
    pub created_at: i64,
}

const CRED_COLUMNS: &str = "id, organization_id, customer_name, connector_type, \
    credentials, credentials_version, token_url, scopes, status, last_refresh_at, created_at";

fn cred_row(r: &Row) -> CredRow {
    CredRow {
        id: r.get("id"),
        organization_id: r.get("organization_id"),
        customer_name: r.get("customer_name"),
        connector_type: r.get("connector_type"),
        credentials: r.get("credentials"),
        credentials_version: r.get("credentials_version"),
        token_url: r.get("token_url"),
        scopes: r.get("scopes"),
        status: r.get("status"),
        last_refresh_at: r.get("last_refresh_at"),
        created_at: r.get("created_at"),
    }
}

impl Store {
    /// The connector's credential columns, read without a lock.
    pub async fn credential_row(
        &self,
        org: &str,
        id: &str,
    ) -> Result<Option<CredRow>, sqlx::Error> {
        let sql =
            format!("SELECT {CRED_COLUMNS} FROM connectors WHERE id = $1 AND organization_id = $2");
        Ok(sqlx::query(&sql)
            .bind(id)
            .bind(org)
            .fetch_optional(self.pool())
            .await?
            .map(|r| cred_row(&r)))
    }

    /// One page of active connectors' credential columns, by id after `after`.
    pub async fn active_credential_rows(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CredRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {CRED_COLUMNS} FROM connectors WHERE status = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        Ok(sqlx::query(&sql)
            .bind(STATUS_ACTIVE)
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(cred_row)
            .collect())
    }

    /// Marks the connector `needs_reauth` unless it already is; whether the status changed.
    pub async fn mark_needs_reauth(
        &self,
        org: &str,
        id: &str,
        reason: &str,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query(
            "UPDATE connectors SET status = $1, status_reason = $2, updated_at = $3 \
             WHERE id = $4 AND organization_id = $5 AND status <> $1",
        )
        .bind(STATUS_NEEDS_REAUTH)
        .bind(reason)
        .bind(now())
        .bind(id)
        .bind(org)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }
}

/// PostgreSQL settings of the refresh transaction (`SET LOCAL`).
const PG_SETTINGS: &[(&str, &str)] = &[
    ("lock_timeout", "5s"),
    ("statement_timeout", "15s"),
    ("idle_in_transaction_session_timeout", "60s"),
];

pub enum Locked {
    Row(Tx, Box<CredRow>),
    /// The lock was not granted within the timeout.
    Busy,
    /// `skip_locked` and another transaction holds the row (PostgreSQL `SKIP LOCKED`).
    Skipped,
    Missing,
}

/// Begins a transaction and locks the connector's row in it.
pub async fn lock_row(
    store: &Store,
    org: &str,
    id: &str,
    skip_locked: bool,
) -> Result<Locked, sqlx::Error> {
    match store.backend() {
        Backend::Postgres => lock_row_pg(store, org, id, skip_locked).await,
        Backend::Sqlite => lock_row_sqlite(store, org, id).await,
    }
}

async fn lock_row_pg(
    store: &Store,
    org: &str,
    id: &str,
    skip_locked: bool,
) -> Result<Locked, sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    for (name, value) in PG_SETTINGS {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(*name)
            .bind(*value)
            .execute(&mut *tx)
            .await?;
    }
    let sql = format!(
        "SELECT {CRED_COLUMNS} FROM connectors WHERE id = $1 AND organization_id = $2 \
         FOR UPDATE{}",
        if skip_locked { " SKIP LOCKED" } else { "" }
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(org)
        .fetch_optional(&mut *tx)
        .await;
    match row {
        Ok(Some(r)) => Ok(Locked::Row(tx, Box::new(cred_row(&r)))),
        Ok(None) => {
            let _ = tx.rollback().await;
            if !skip_locked {
                return Ok(Locked::Missing);
            }
            let exists =
                sqlx::query("SELECT id FROM connectors WHERE id = $1 AND organization_id = $2")
                    .bind(id)
                    .bind(org)
                    .fetch_optional(store.pool())
                    .await?;
            Ok(if exists.is_some() {
                Locked::Skipped
            } else {
                Locked::Missing
            })
        }
        Err(e) if is_busy(&e) => {
            let _ = tx.rollback().await;
            Ok(Locked::Busy)
        }
        Err(e) => Err(e),
    }
}

async fn lock_row_sqlite(store: &Store, org: &str, id: &str) -> Result<Locked, sqlx::Error> {
    let mut tx = store.pool().begin().await?;
    // The first write of the transaction takes SQLite's write lock (waiting up to the busy
    // timeout); the no-op UPDATE also tells whether the row exists.
    let taken = sqlx::query(
        "UPDATE connectors SET credentials_version = credentials_version \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .execute(&mut *tx)
    .await;
    match taken {
        Err(e) if is_busy(&e) => {
            let _ = tx.rollback().await;
            return Ok(Locked::Busy);
        }
        Err(e) => return Err(e),
        Ok(r) if r.rows_affected() == 0 => return Ok(Locked::Missing),
        Ok(_) => {}
    }
    let sql = format!("SELECT {CRED_COLUMNS} FROM connectors WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await?;
    Ok(Locked::Row(tx, Box::new(cred_row(&row))))
}

fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| {
        // SQLite: SQLITE_BUSY (5) and its extended codes; PostgreSQL: lock_not_available.
        matches!(d.code().as_deref(), Some("5" | "517" | "261" | "55P03"))
            || d.message().contains("database is locked")
    })
}

/// Writes refreshed credentials and bumps the version (other replicas see the move).
pub async fn store_refreshed(
    tx: &mut Tx,
    id: &str,
    blob: &[u8],
    key_id: &str,
    scopes: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE connectors SET credentials = $1, credentials_key_id = $2, \
         credentials_version = credentials_version + 1, scopes = COALESCE($3, scopes), \
         last_refresh_at = $4 WHERE id = $5",
    )
    .bind(blob)
    .bind(key_id)
    .bind(scopes)
    .bind(at)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Marks the locked row `needs_reauth`; whether the status changed.
pub async fn mark_needs_reauth_locked(
    tx: &mut Tx,
    id: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE connectors SET status = $1, status_reason = $2, updated_at = $3 \
         WHERE id = $4 AND status <> $1",
    )
    .bind(STATUS_NEEDS_REAUTH)
    .bind(reason)
    .bind(now())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}
