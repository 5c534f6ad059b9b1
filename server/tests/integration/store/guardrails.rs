//! Counted sends (`max_sends_per_hour`, `max_sends_per_day`): the conditional insert admits
//! exactly up to each limit, over the right window, on both backends, with racing sends and
//! forgotten ones (the counts come from the sends' numbers, not a walk over them).

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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A send counted `age_ms` ago (negative: by a replica whose clock is ahead), numbered after
/// the connector's others as the store numbers them: callers add them oldest first.
async fn sent_ago(store: &Store, connector_id: &str, id: &str, age_ms: i64) {
    sqlx::query(
        "INSERT INTO policy_sends (id, connector_id, sent_at_ms, seq) SELECT $1, $2, $3, \
         COALESCE(MAX(seq), 0) + 1 FROM policy_sends WHERE connector_id = $2",
    )
    .bind(id)
    .bind(connector_id)
    .bind(now() - age_ms)
    .execute(store.pool())
    .await
    .unwrap();
}

/// What a walk over the rows counts: the sends after `since` that were not forgotten.
async fn walked(store: &Store, connector_id: &str, since: i64) -> u64 {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM policy_sends WHERE connector_id = $1 AND sent_at_ms > $2 \
         AND NOT forgotten",
    )
    .bind(connector_id)
    .bind(since)
    .fetch_one(store.pool())
    .await
    .unwrap();
    n as u64
}

both_backends! {
    async fn counted_sends_stop_exactly_at_each_limit_over_its_window(store: Store) {
        // The hourly limit: sends older than an hour do not count against it.
        let c = connector(&store, "hourly").await;
        sent_ago(&store, &c, "old-1", 2 * HOUR_MS).await;
        sent_ago(&store, &c, "old-2", HOUR_MS + 60_000).await;
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
        let now = now();
        assert_eq!(store.count_sends(&c, now - HOUR_MS, now - DAY_MS).await.unwrap(), (3, 5));
    }

    async fn racing_sends_take_exactly_the_places_the_limit_leaves(store: Store) {
        // Two replicas (or two workers) counting at once must not both take the last place:
        // 24 sends race for the 5 of the hour.
        let c = connector(&store, "racing").await;
        sent_ago(&store, &c, "before", 10 * 60_000).await;
        let tries = (0..24).map(|i| {
            let (store, c) = (store.clone(), c.clone());
            tokio::spawn(async move { store.reserve_send(&format!("r{i}"), &c, Some(6), None).await })
        });
        let mut taken = 0;
        for t in futures::future::join_all(tries).await {
            taken += usize::from(t.unwrap().unwrap());
        }
        assert_eq!(taken, 5, "6 places in the hour, one already taken");
        let now = now();
        assert_eq!(store.count_sends(&c, now - HOUR_MS, now - DAY_MS).await.unwrap(), (6, 6));
    }

    async fn counts_match_a_walk_over_the_sends_with_forgotten_ones_and_a_clock_ahead(store: Store) {
        let c = connector(&store, "exact").await;
        // Sends over two days, oldest first: some older than a day, many in the day, some in
        // the hour.
        let ages: Vec<i64> = (0..30).map(|i| (47 - i) * HOUR_MS / 2 + 1_000).collect();
        for (i, age) in ages.iter().enumerate() {
            sent_ago(&store, &c, &format!("s{i}"), *age).await;
        }
        for i in 0..8 {
            assert!(store.reserve_send(&format!("n{i}"), &c, None, Some(1_000)).await.unwrap());
        }
        // Forgotten sends: one older than a day, two in the day, two in the hour (the newest
        // among them).
        for id in ["s2", "s20", "s25", "n3", "n7"] {
            store.forget_send(id).await.unwrap();
        }
        let check = |label: &'static str| {
            let (store, c) = (store.clone(), c.clone());
            async move {
                let now = now();
                let (hour, day) = (now - HOUR_MS, now - DAY_MS);
                let counted = store.count_sends(&c, hour, day).await.unwrap();
                let walked = (walked(&store, &c, hour).await, walked(&store, &c, day).await);
                assert_eq!(counted, walked, "{label}");
                counted
            }
        };
        let (in_hour, _) = check("forgotten sends").await;
        assert_eq!(in_hour, 6, "the 8 new sends, 2 forgotten");

        // The hourly limit sees the same count: 6 taken, so a limit of 7 leaves one place.
        assert!(store.reserve_send("h1", &c, Some(7), None).await.unwrap());
        assert!(!store.reserve_send("h2", &c, Some(7), None).await.unwrap());
        // A forgotten place is free again.
        store.forget_send("h1").await.unwrap();
        assert!(store.reserve_send("h3", &c, Some(7), None).await.unwrap());

        // Another replica whose clock runs a minute ahead counted a send: a send counted after
        // it is never dated before it (the numbers keep the order of the times), and the counts
        // stay those of a walk.
        sent_ago(&store, &c, "ahead", -60_000).await;
        store.record_send("after", &c).await.unwrap();
        let at = |id: &'static str| {
            let store = store.clone();
            async move {
                let row: (i64, i64) = sqlx::query_as(
                    "SELECT sent_at_ms, seq FROM policy_sends WHERE id = $1",
                )
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap();
                row
            }
        };
        let (ahead, after) = (at("ahead").await, at("after").await);
        assert!(after.0 >= ahead.0, "{after:?} dated before {ahead:?}");
        assert_eq!(after.1, ahead.1 + 1);
        check("a clock ahead").await;

        // Pruning drops what is older than a day; the counts still match.
        store.prune_sends(&c).await.unwrap();
        check("after pruning").await;
    }
}

/// Migration 0740 on PostgreSQL numbers the sends counted before it as on SQLite (the unit test
/// `existing_counted_sends_get_numbers_in_the_order_of_their_times`): per connector, in the
/// order of their times, from 1. The migrations before it run from their files, then the rows
/// go in, then 0740.
#[tokio::test]
async fn existing_counted_sends_get_numbers_on_postgres() {
    use sqlx::{Connection, Executor};
    let Some(db) = crate::common::pgdb::fresh().await else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let before: Vec<_> = files
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_str().unwrap() < "0740")
        .collect();
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    for f in &before {
        conn.execute(std::fs::read_to_string(f).unwrap().as_str())
            .await
            .unwrap();
    }
    // Rows of connectors this test does not create: foreign keys are not checked meanwhile.
    conn.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    for (id, connector, at) in [
        ("b", "c1", 300_i64),
        ("a", "c1", 100),
        ("z", "c2", 100),
        ("d", "c1", 200),
        ("c", "c1", 200),
    ] {
        sqlx::query("INSERT INTO policy_sends (id, connector_id, sent_at_ms) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(connector)
            .bind(at)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.execute("SET session_replication_role = DEFAULT")
        .await
        .unwrap();
    let numbering = std::fs::read_to_string(dir.join("0740_policy_send_numbers.sql")).unwrap();
    conn.execute(numbering.as_str()).await.unwrap();
    let rows: Vec<(String, i64, bool)> =
        sqlx::query_as("SELECT id, seq, forgotten FROM policy_sends ORDER BY connector_id, seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let got: Vec<(&str, i64)> = rows.iter().map(|(id, n, _)| (id.as_str(), *n)).collect();
    assert_eq!(got, [("a", 1), ("c", 2), ("d", 3), ("b", 4), ("z", 1)]);
    assert!(rows.iter().all(|(_, _, forgotten)| !forgotten));
    conn.close().await.unwrap();
    drop(db);
}
