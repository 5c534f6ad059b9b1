//! Counted sends (`max_sends_per_hour`, `max_sends_per_day`): the conditional insert admits
//! exactly up to each limit, over the right window, on both backends.

use server::store::guardrails::{DAY_MS, HOUR_MS};
use server::store::Store;

use super::fixtures::{new_connector, org};

async fn connector(store: &Store, name: &str) -> String {
    let o = org(store, name).await;
    store
        .insert_connector(new_connector(&o.id, name, "gmail", "def-g"))
        .await
        .unwrap()
        .id
}

/// A send counted `age_ms` ago.
async fn sent_ago(store: &Store, connector_id: &str, id: &str, age_ms: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    sqlx::query("INSERT INTO policy_sends (id, connector_id, sent_at_ms) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(connector_id)
        .bind(now - age_ms)
        .execute(store.pool())
        .await
        .unwrap();
}

both_backends! {
    async fn counted_sends_stop_exactly_at_each_limit_over_its_window(store: Store) {
        // The hourly limit: sends older than an hour do not count against it.
        let c = connector(&store, "hourly").await;
        sent_ago(&store, &c, "old-1", HOUR_MS + 60_000).await;
        sent_ago(&store, &c, "old-2", 2 * HOUR_MS).await;
        assert!(store.reserve_send("h1", &c, Some(2), None).await.unwrap());
        assert!(store.reserve_send("h2", &c, Some(2), None).await.unwrap());
        assert!(!store.reserve_send("h3", &c, Some(2), None).await.unwrap(), "the third in the hour");
        // A send that did not happen is forgotten and frees its place.
        store.forget_send("h2").await.unwrap();
        assert!(store.reserve_send("h4", &c, Some(2), None).await.unwrap());
        assert!(!store.reserve_send("h5", &c, Some(2), None).await.unwrap());

        // The daily limit counts the sends of the last day, the last hour's among them; a send
        // older than a day counts for nothing.
        let c = connector(&store, "daily").await;
        sent_ago(&store, &c, "d-old", DAY_MS + 60_000).await;
        sent_ago(&store, &c, "d-1", 5 * HOUR_MS).await;
        sent_ago(&store, &c, "d-2", 2 * HOUR_MS).await;
        assert!(store.reserve_send("d3", &c, Some(100), Some(4)).await.unwrap());
        assert!(store.reserve_send("d4", &c, Some(100), Some(4)).await.unwrap());
        assert!(!store.reserve_send("d5", &c, Some(100), Some(4)).await.unwrap(), "the fifth in the day");
        // Both limits at once: the hourly one refuses first when it is the tighter.
        assert!(!store.reserve_send("d6", &c, Some(2), Some(100)).await.unwrap(), "the third in the hour");
        assert!(store.reserve_send("d7", &c, Some(3), Some(100)).await.unwrap());

        // What was counted is what `count_sends` reports (the refused ones are not rows).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert_eq!(store.count_sends(&c, now - HOUR_MS, now - DAY_MS).await.unwrap(), (3, 5));
    }
}
