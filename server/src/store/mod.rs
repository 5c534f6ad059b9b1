//! The database: organizations, applications and their tokens, data keys, connectors.
//!
//! One store on two backends through sqlx's `any` driver: SQLite (the embedded default, one
//! file) and PostgreSQL (several replicas on one database). Queries are runtime queries in SQL
//! both accept (`$N` placeholders, TEXT ids, BIGINT unix seconds, BLOB/BYTEA ciphertexts,
//! `ON CONFLICT`, `RETURNING`); each backend has its own migration folder with the same
//! versions. Claims that replicas race for are single statements (`INSERT ... ON CONFLICT DO
//! NOTHING`, compare-and-set `UPDATE`, `DELETE ... RETURNING`), atomic on both backends.

mod apps;
pub mod attachments;
pub mod auth;
mod connectors;
pub mod context;
pub mod credentials;
pub mod events;
pub mod guardrails;
mod idempotency;
mod keys;
mod oauth;
mod orgs;

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

pub use apps::{Application, ApplicationRow, TokenRecord};
pub use connectors::{ConnectorFilter, ConnectorRow, ConnectorUpdate, NewConnector};
pub use credentials::{STATUS_ACTIVE, STATUS_NEEDS_REAUTH};
pub use idempotency::{IdempotencyEntry, IdempotencySlot};
pub use keys::DataKeyRow;
pub use oauth::{AppRow, ConnectSessionRow, Link, SettingsRow, StateRow};
pub use orgs::Organization;

/// A row of either backend.
pub type Row = sqlx::any::AnyRow;

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names (`sqlite:` or `postgres:`/`postgresql:`).
    pub fn of_url(database_url: &str) -> anyhow::Result<Backend> {
        if database_url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "database URL `{}` is not supported: set --database-url (CONNECTORS_DATABASE_URL) \
                 to sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
                redact_url(database_url)
            )
        }
    }
}

/// Handle on the database (cheap to clone).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Where other processes learn that application credentials or policies changed (see
    /// [`auth`]).
    auth_signal: auth::Signal,
    /// What this process learnt of such changes.
    watch: Arc<auth::Watch>,
    /// Policy versions in force by scope, under the [`auth::Watch`] generation they were read in.
    policies: Arc<guardrails::PolicyCache>,
}

type MigrationSource = &'static [(i64, &'static str, &'static str)];

const SQLITE_MIGRATIONS: MigrationSource = &[
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
    (
        200,
        "events",
        include_str!("../../migrations/sqlite/0200_events.sql"),
    ),
    (
        201,
        "event_push",
        include_str!("../../migrations/sqlite/0201_event_push.sql"),
    ),
    (
        202,
        "graph_push",
        include_str!("../../migrations/sqlite/0202_graph_push.sql"),
    ),
    (
        300,
        "guardrails",
        include_str!("../../migrations/sqlite/0300_guardrails.sql"),
    ),
    (
        400,
        "context_store",
        include_str!("../../migrations/sqlite/0400_context_store.sql"),
    ),
    (
        500,
        "application_order",
        include_str!("../../migrations/sqlite/0500_application_order.sql"),
    ),
    (
        600,
        "attachment_handles",
        include_str!("../../migrations/sqlite/0600_attachment_handles.sql"),
    ),
    (
        610,
        "calendar_events",
        include_str!("../../migrations/sqlite/0610_calendar_events.sql"),
    ),
    (
        700,
        "connect",
        include_str!("../../migrations/sqlite/0700_connect.sql"),
    ),
    (
        710,
        "reconnect_links",
        include_str!("../../migrations/sqlite/0710_reconnect_links.sql"),
    ),
    (
        730,
        "approval_uses",
        include_str!("../../migrations/sqlite/0730_approval_uses.sql"),
    ),
    (
        740,
        "policy_send_numbers",
        include_str!("../../migrations/sqlite/0740_policy_send_numbers.sql"),
    ),
];

/// Same versions and names as [`SQLITE_MIGRATIONS`] (a test checks they stay twins).
const POSTGRES_MIGRATIONS: MigrationSource = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "idempotency",
        include_str!("../../migrations/postgres/0002_idempotency.sql"),
    ),
    (
        100,
        "oauth",
        include_str!("../../migrations/postgres/0100_oauth.sql"),
    ),
    (
        200,
        "events",
        include_str!("../../migrations/postgres/0200_events.sql"),
    ),
    (
        201,
        "event_push",
        include_str!("../../migrations/postgres/0201_event_push.sql"),
    ),
    (
        202,
        "graph_push",
        include_str!("../../migrations/postgres/0202_graph_push.sql"),
    ),
    (
        300,
        "guardrails",
        include_str!("../../migrations/postgres/0300_guardrails.sql"),
    ),
    (
        400,
        "context_store",
        include_str!("../../migrations/postgres/0400_context_store.sql"),
    ),
    (
        500,
        "application_order",
        include_str!("../../migrations/postgres/0500_application_order.sql"),
    ),
    (
        600,
        "attachment_handles",
        include_str!("../../migrations/postgres/0600_attachment_handles.sql"),
    ),
    (
        610,
        "calendar_events",
        include_str!("../../migrations/postgres/0610_calendar_events.sql"),
    ),
    (
        700,
        "connect",
        include_str!("../../migrations/postgres/0700_connect.sql"),
    ),
    (
        710,
        "reconnect_links",
        include_str!("../../migrations/postgres/0710_reconnect_links.sql"),
    ),
    (
        730,
        "approval_uses",
        include_str!("../../migrations/postgres/0730_approval_uses.sql"),
    ),
    (
        740,
        "policy_send_numbers",
        include_str!("../../migrations/postgres/0740_policy_send_numbers.sql"),
    ),
];

/// The (version, name) of each migration of a backend, in order.
pub fn migration_versions(backend: Backend) -> Vec<(i64, &'static str)> {
    migrations_of(backend)
        .iter()
        .map(|(v, n, _)| (*v, *n))
        .collect()
}

fn migrations_of(backend: Backend) -> MigrationSource {
    match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    }
}

impl Store {
    /// Opens (creating a SQLite file and its directory when missing) the database and runs the
    /// migrations. `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    pub async fn open(database_url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(database_url)?;
        let pool = match backend {
            Backend::Sqlite => open_sqlite(database_url).await?,
            Backend::Postgres => open_postgres(database_url).await?,
        };
        let auth_signal = auth::Signal::of(backend, database_url)?;
        let store = Store {
            pool,
            backend,
            auth_signal,
            watch: Arc::default(),
            policies: Arc::default(),
        };
        store.migrate().await?;
        tracing::info!(database = %redact_url(database_url), ?backend, "database ready");
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let migrations: Vec<Migration> = migrations_of(self.backend)
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
        // Replicas starting together on one PostgreSQL database: the migrator takes an
        // advisory lock, so one of them migrates and the others wait and find nothing to do.
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

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// `SELECT 1` (readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Checkpoints SQLite's WAL into the main file (tests that scan files; clean shutdown).
    /// Nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn open_sqlite(database_url: &str) -> anyhow::Result<AnyPool> {
    let (base, query) = match database_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (database_url, None),
    };
    let param = |p: &str| query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with(p)));
    let memory_alias = matches!(base, "sqlite::memory:" | "sqlite://:memory:");
    let in_memory = memory_alias || param("mode=memory");
    if !in_memory {
        let options = SqliteConnectOptions::from_str(database_url)
            .context("parsing the database URL (--database-url)")?;
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
        }
    }
    // The any driver reads SQLite options from the URL alone: the file and its open mode
    // (`mode=rwc` creates a missing file); the pragmas are set on every new connection. An
    // in-memory database gets a name, so every connection of the pool opens the same one.
    let url = if memory_alias {
        format!(
            "sqlite:file:connectors-memory-{}?mode=memory&cache=shared",
            uuid::Uuid::new_v4().simple()
        )
    } else if param("mode=") {
        database_url.to_string()
    } else {
        let sep = if query.is_some() { '&' } else { '?' };
        format!("{database_url}{sep}mode=rwc")
    };
    let any =
        AnyConnectOptions::from_str(&url).context("parsing the database URL (--database-url)")?;
    if !in_memory && !param("mode=ro") {
        let options = SqliteConnectOptions::from_str(database_url)
            .context("parsing the database URL (--database-url)")?;
        owner_only(options.get_filename())?;
    }
    // No ping before each acquire: a SQLite connection is a file handle in this process that
    // cannot drop, and sqlx's ping is a round trip to the connection's worker thread, as long
    // as a short query, on every query (issue 27: the policy's counted send, the approval
    // round). PostgreSQL keeps the ping: its connections can die with the server.
    let mut pool = AnyPoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false);
    if in_memory {
        // The database lives as long as one connection to it: keep one open.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    pool.after_connect(|conn, _meta| {
        Box::pin(async move {
            // busy_timeout first: switching to WAL takes a lock another connection may hold.
            conn.execute("PRAGMA busy_timeout = 10000").await?;
            conn.execute("PRAGMA foreign_keys = ON").await?;
            conn.execute("PRAGMA journal_mode = WAL").await?;
            Ok(())
        })
    })
    .connect_with(any)
    .await
    .context("opening the database")
}

/// Creates the database file readable and writable by its owner only, or takes group and
/// other permissions away from an existing one (SQLite gives its `-wal` and `-shm` files the
/// database file's permissions).
fn owner_only(path: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
                .with_context(|| format!("making {} private", path.display()))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

async fn open_postgres(database_url: &str) -> anyhow::Result<AnyPool> {
    let any = AnyConnectOptions::from_str(database_url).with_context(|| {
        format!(
            "parsing the database URL `{}` (--database-url)",
            redact_url(database_url)
        )
    })?;
    let failed = || {
        format!(
            "connecting to PostgreSQL at `{}` (--database-url): is it running, does the \
             database exist, are the user and password right?",
            redact_url(database_url)
        )
    };
    // One connection first, so a failure names its cause (refused, unknown database, bad
    // password) instead of the pool's timeout.
    let first = tokio::time::timeout(Duration::from_secs(15), AnyConnection::connect_with(&any))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 15 s"))
        .with_context(failed)?
        .with_context(failed)?;
    let _ = first.close().await;
    AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(15))
        .connect_with(any)
        .await
        .with_context(failed)
}

/// The URL without its password (for messages and logs).
pub fn redact_url(database_url: &str) -> String {
    let Some((scheme, rest)) = database_url.split_once("://") else {
        return database_url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => database_url.to_string(),
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/prod?sslmode=require"),
            "postgres://app:***@db.example:5432/prod?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redact_url("sqlite://./data/c.db"), "sqlite://./data/c.db");
    }

    #[test]
    fn backend_follows_the_scheme() {
        assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgres://u@h/d").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/d").unwrap(),
            Backend::Postgres
        );
        let err = Backend::of_url("mysql://u:pw@h/d").unwrap_err().to_string();
        assert!(
            err.contains("--database-url") && !err.contains("pw"),
            "{err}"
        );
    }

    /// Migration 0740 numbers the sends counted before it: per connector, in the order of
    /// their times, from 1, so the counts by numbers match what a walk counted.
    #[tokio::test]
    async fn existing_counted_sends_get_numbers_in_the_order_of_their_times() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let (before, after): (Vec<_>, Vec<_>) =
            SQLITE_MIGRATIONS.iter().partition(|(v, _, _)| *v < 740);
        for (_, _, sql) in &before {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        // Rows of connectors this test does not create (one connection: the pragma holds).
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&pool)
            .await
            .unwrap();
        for (id, connector, at) in [
            ("b", "c1", 300),
            ("a", "c1", 100),
            ("z", "c2", 100),
            ("d", "c1", 200),
            ("c", "c1", 200),
        ] {
            sqlx::query("INSERT INTO policy_sends (id, connector_id, sent_at_ms) VALUES (?, ?, ?)")
                .bind(id)
                .bind(connector)
                .bind(at)
                .execute(&pool)
                .await
                .unwrap();
        }
        for (_, _, sql) in &after {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(
            "SELECT id, seq, forgotten FROM policy_sends ORDER BY connector_id, seq",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let expected = [("a", 1), ("c", 2), ("d", 3), ("b", 4), ("z", 1)];
        let got: Vec<(&str, i64)> = rows.iter().map(|(id, n, _)| (id.as_str(), *n)).collect();
        assert_eq!(got, expected);
        assert!(rows.iter().all(|(_, _, forgotten)| !forgotten));
    }

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        assert_eq!(
            migration_versions(Backend::Sqlite),
            migration_versions(Backend::Postgres)
        );
        // Every migration file is registered (a file left out of the list would never run).
        for dir in ["sqlite", "postgres"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let files = std::fs::read_dir(&path)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "sql")
                })
                .count();
            assert_eq!(
                migration_versions(Backend::Sqlite).len(),
                files,
                "migration files in {path:?} vs the list in store/mod.rs"
            );
        }
    }
}
