//! The database: organizations, applications and their tokens, data keys, connectors.
//!
//! Runtime queries only, in SQL that SQLite and PostgreSQL both accept (`$N` placeholders,
//! TEXT ids, BIGINT unix seconds, BLOB ciphertexts), so the PostgreSQL backend (issue 6) needs
//! migrations and a pool, not new queries.

mod apps;
mod connectors;
mod keys;
mod orgs;

use std::borrow::Cow;
use std::str::FromStr;

use anyhow::Context;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

pub use apps::{Application, TokenRecord};
pub use connectors::{ConnectorFilter, ConnectorRow, ConnectorUpdate, NewConnector};
pub use keys::DataKeyRow;
pub use orgs::Organization;

/// Handle on the database (cheap to clone).
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "idempotency",
        include_str!("../../migrations/sqlite/0002_idempotency.sql"),
    ),
    (
        100,
        "oauth",
        include_str!("../../migrations/sqlite/0100_oauth.sql"),
    ),
];

impl Store {
    /// Opens (creating when missing) the database and runs the migrations.
    pub async fn open(database_url: &str) -> anyhow::Result<Store> {
        let Some(_) = database_url.strip_prefix("sqlite:") else {
            anyhow::bail!("only sqlite:// database URLs are supported so far");
        };
        let options = SqliteConnectOptions::from_str(database_url)
            .with_context(|| "parsing the database URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .context("opening the database")?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let migrations: Vec<Migration> = SQLITE_MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        migrator
            .run(&self.pool)
            .await
            .context("running database migrations")?;
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// `SELECT 1` (readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Checkpoints the WAL into the main file (tests that scan files; clean shutdown).
    pub async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
