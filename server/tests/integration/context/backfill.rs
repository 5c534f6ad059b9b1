//! A backfill of 10,000 messages killed halfway resumes where it stopped: no duplicate rows,
//! no page written twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox_gmail::Seed;
use serde_json::json;
use server::services::context::{Context, ContextConfig};

use super::{env_seeded, fast, Db};

const N: i64 = 10_000;

async fn wait_for(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_backfill_of_10000_messages_killed_halfway_resumes_without_duplicate_rows() {
    let Some(mut e) = env_seeded(Db::Sqlite, Seed::Count(N as usize)).await else {
        return;
    };
    // This test runs the context workers itself: the server's would finish the job.
    e.context = None;
    let id = e.connector("outlook", json!({"enabled": true})).await;
    let store = e.h.state.store.clone();
    let worker = || {
        Arc::new(Context::new(
            store.clone(),
            e.h.state.registry.clone(),
            e.h.state.runtime.clone(),
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
