//! The database lock on a connector's credential row, per backend.
//!
//! - PostgreSQL: `SELECT ... FOR UPDATE` (health checks: `SKIP LOCKED`) in a transaction with
//!   transaction-local `lock_timeout` (waiters give up and re-read), `statement_timeout`, and
//!   `idle_in_transaction_session_timeout` (a holder that hangs instead of dying is cut off).
//! - SQLite: a write transaction, started with a no-op UPDATE of the row (SQLite's write lock is
//!   database wide; waiters give up after the pool's busy timeout and re-read).
//!
//! The lock lives exactly as long as the transaction, so a process that dies holding it
//! releases it with its connection: nothing is left to clean up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::{Any, Transaction};

use super::{cred_row, CredRow, CRED_COLUMNS, STATUS_NEEDS_REAUTH};
use crate::store::{now, Backend, Store};

pub type Tx = Transaction<'static, Any>;

/// PostgreSQL settings of the refresh transaction (`SET LOCAL`).
const PG_SETTINGS: &[(&str, &str)] = &[
    ("lock_timeout", "5s"),
    ("statement_timeout", "15s"),
    ("idle_in_transaction_session_timeout", "60s"),
];

/// Test-only hook: when set to a file path, the first refresh of the process writes that file
/// after taking the row lock and before the token request, then waits (for an hour) so a test
/// can kill the process while it holds the lock. Never set it in production.
pub const TEST_HOLD_LOCK_ENV: &str = "CONNECTORS_TEST_HOLD_REFRESH_LOCK";

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
pub async fn mark_needs_reauth(tx: &mut Tx, id: &str, reason: &str) -> Result<bool, sqlx::Error> {
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

static HELD: AtomicBool = AtomicBool::new(false);

/// See [`TEST_HOLD_LOCK_ENV`].
pub async fn test_hold_lock(connector_id: &str) {
    let Ok(path) = std::env::var(TEST_HOLD_LOCK_ENV) else {
        return;
    };
    if HELD.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::warn!(%connector_id, "test hook: holding the refresh lock before the token request");
    let _ = std::fs::write(&path, format!("{} {connector_id}\n", std::process::id()));
    tokio::time::sleep(Duration::from_secs(3600)).await;
}
