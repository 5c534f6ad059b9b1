//! A PostgreSQL database of its own for one test.
//!
//! Every PostgreSQL half of a suite starts with:
//!
//! ```ignore
//! let Some(db) = pgdb::fresh().await else { return }; // skipped: PostgreSQL not reachable
//! let store = server::store::Store::open(db.url()).await?;
//! ```
//!
//! [`fresh`] creates a randomly named database on the server `TEST_DATABASE_URL` names
//! (default `postgres://postgres@127.0.0.1:5432/postgres`); dropping the [`TestDb`] drops the
//! database (`WITH (FORCE)`, so connections a test left open do not keep it alive). When the
//! server is unreachable, [`fresh`] panics if `CI` is set and otherwise prints a loud skip note
//! and returns `None`.
use std::io::Write;
use std::time::Duration;

use sqlx::{ConnectOptions, Connection, Executor};

/// Default server for test databases.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists until this value is dropped.
pub struct TestDb {
    admin_url: String,
    url: String,
    name: String,
}

impl TestDb {
    /// `postgres://...` URL of the test's database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The server URL tests use (`TEST_DATABASE_URL`, else [`DEFAULT_URL`]).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// A new, empty database; `None` (after a loud note) when PostgreSQL is not reachable and `CI`
/// is not set.
pub async fn fresh() -> Option<TestDb> {
    let admin_url = admin_url();
    let mut admin = match connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => {
            let shown = redact(&admin_url);
            if std::env::var_os("CI").is_some() {
                panic!(
                    "PostgreSQL is not reachable at {shown} ({e}); CI is set, so PostgreSQL tests \
                     must run: start it (scripts/ci/postgres.sh) or set TEST_DATABASE_URL"
                );
            }
            // Straight to stderr, past the test harness's capture: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!! SKIPPED (PostgreSQL part of a test): not reachable at {shown} ({e}).\n\
                 !!!!!!!! Start it (bash scripts/ci/postgres.sh) or set TEST_DATABASE_URL; \
                 with CI set this test fails.\n"
            );
            return None;
        }
    };
    sweep_stale(&mut admin).await;
    let name = format!(
        "{PREFIX}{}_{}",
        unix_now(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    let _ = admin.close().await;
    let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(TestDb {
        admin_url,
        url: url.to_string(),
        name,
    })
}

/// Test databases are named `connectors_test_<unix seconds>_<random>`.
const PREFIX: &str = "connectors_test_";
/// A test database older than this was left by a killed test run.
const STALE_SECS: u64 = 6 * 3600;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Drops the databases of test runs that were killed before their cleanup (once per process).
async fn sweep_stale(admin: &mut sqlx::PgConnection) {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database")
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    let now = unix_now();
    for name in names {
        let Some(created) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|t| t.parse::<u64>().ok())
        else {
            continue;
        };
        if now.saturating_sub(created) > STALE_SECS {
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
    }
}

async fn connect(url: &str) -> Result<sqlx::PgConnection, String> {
    let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(|e| format!("{e}"))?;
    match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out after 5 s".to_string()),
    }
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside a tokio runtime, where blocking on another runtime panics: do the
        // async cleanup on a thread of its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping the test database");
            rt.block_on(async move {
                let mut admin = connect(&admin_url).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("warning: dropping test database {}: {e}", self.name);
        }
    }
}
