//! A backfill of 10,000 messages killed halfway resumes where it stopped: no duplicate rows,
//! no page written twice; for both providers (Gmail: `messages.list` ids then
//! `messages.get_many`; Outlook: `messages.list` pages) on both databases.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use connector_core::{Connector, HttpConfig, ProviderDescriptor, TokenProvider};
use sandbox_gmail::Seed;
use serde_json::json;
use server::registry::{ConnectorType, Registry};
use server::runtime::Runtime;
use server::services::context::{Context, ContextConfig};

use super::{env_seeded, fast, Db};

const N: i64 = 10_000;

/// A ceiling, not a pace: alone, a 10,000-message backfill takes well under a minute per half;
/// with the whole suite running beside it on two cores, the Gmail one on PostgreSQL took longer
/// than 90 s.
async fn wait_for(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Gmail as the server runs it, except that the client paces bulk reads for a quota of 10^8
/// units a minute instead of the 2026 default of 6,000 (which allows ~4 messages a second:
/// 10,000 would take 45 minutes). The backfill, its checkpoints and the store are the server's.
// A `ConnectorFactory`: core's error type, returned as core's factories return it.
#[allow(clippy::result_large_err)]
fn unpaced_gmail(
    token: Arc<dyn TokenProvider>,
    http: HttpConfig,
) -> connector_core::Result<Connector> {
    let options = connector_gmail::GmailOptions {
        quota_units_per_minute: 100_000_000,
        ..Default::default()
    };
    connector_gmail::connector_with_options(token, http, options)
}

static UNPACED_GMAIL: LazyLock<ProviderDescriptor> = LazyLock::new(|| ProviderDescriptor {
    connector: unpaced_gmail,
    ..connector_gmail::PROVIDER
});

async fn killed_halfway_resumes_without_duplicate_rows(kind: &str, db: Db) {
    let Some(mut e) = env_seeded(db, kind, Seed::Count(N as usize)).await else {
        return;
    };
    // This test runs the context workers itself: the server's would finish the job.
    e.context = None;
    let id = e.connector(kind, json!({"enabled": true})).await;
    let store = e.h.state.store.clone();
    let (registry, runtime) = match kind {
        "gmail" => {
            let provider = e.h.state.registry.get("gmail").unwrap().provider.clone();
            let registry = Arc::new(Registry::new(vec![ConnectorType::new(
                &UNPACED_GMAIL,
                provider,
            )]));
            let runtime = Runtime::new(
                store.clone(),
                e.h.state.vault.clone(),
                registry.clone(),
                e.h.state.config.public_url.clone(),
            );
            (registry, Arc::new(runtime))
        }
        _ => (e.h.state.registry.clone(), e.h.state.runtime.clone()),
    };
    let worker = || {
        Arc::new(Context::new(
            store.clone(),
            registry.clone(),
            runtime.clone(),
            ContextConfig {
                lease: Duration::from_millis(500),
                pages_per_claim: 1,
                ..fast()
            },
        ))
    };

    let first = worker();
    first.discover().await.unwrap();
    let running = first.spawn();
    wait_for("half the mailbox", async || {
        store.context_count(&id).await.unwrap() >= N / 2
    })
    .await;
    drop(running); // killed, possibly in the middle of a page
    tokio::time::sleep(Duration::from_millis(200)).await;
    let at_kill = store.context_sync(&id).await.unwrap().unwrap();
    let rows_at_kill = store.context_count(&id).await.unwrap();
    assert_eq!(at_kill.state, "backfilling");
    assert!(at_kill.checkpoint.is_some(), "a checkpoint is stored");
    assert!(rows_at_kill < N, "killed before the end: {rows_at_kill}");
    assert_eq!(
        at_kill.backfilled, rows_at_kill,
        "rows and checkpoint commit together"
    );

    // Another replica takes over once the dead one's lease has run out.
    let second = worker();
    let _running = second.spawn();
    wait_for("the backfill to finish", async || {
        store.context_sync(&id).await.unwrap().unwrap().state == "live"
    })
    .await;
    let done = store.context_sync(&id).await.unwrap().unwrap();
    assert_eq!(store.context_count(&id).await.unwrap(), N);
    // Resumed, not restarted: every page was written once in all.
    assert_eq!(done.backfilled, N);
    let distinct: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT message_id) FROM context_messages WHERE connector_id = $1",
    )
    .bind(&id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(distinct, N);
    let status = e.status(&id).await;
    assert_eq!(status["replication"]["messages"], N);
    assert_eq!(status["replication"]["state"], "live");
    assert!(status["replication"]["backfill_finished_at"].is_string());
}

#[actix_web::test]
async fn outlook_backfill_killed_halfway_resumes_without_duplicates_on_sqlite() {
    killed_halfway_resumes_without_duplicate_rows("outlook", Db::Sqlite).await;
}

#[actix_web::test]
async fn outlook_backfill_killed_halfway_resumes_without_duplicates_on_postgres() {
    killed_halfway_resumes_without_duplicate_rows("outlook", Db::Postgres).await;
}

#[actix_web::test]
async fn gmail_backfill_killed_halfway_resumes_without_duplicates_on_sqlite() {
    killed_halfway_resumes_without_duplicate_rows("gmail", Db::Sqlite).await;
}

#[actix_web::test]
async fn gmail_backfill_killed_halfway_resumes_without_duplicates_on_postgres() {
    killed_halfway_resumes_without_duplicate_rows("gmail", Db::Postgres).await;
}
