//! How the store orders a text search (docs/context-store.md, "Ranking"): the newest
//! `rank_window` matches ranked by relevance, then every further match newest first; every
//! match on exactly one page; on both databases and, on SQLite, through both plans (a rare word
//! is matched through the full-text index first, a word in more than 5,000 rows by walking the
//! newest messages).

use connector_core::replica::ReplicaMessage;
use serde_json::json;
use server::store::context::StoreQuery;
use server::store::{NewConnector, Store};

use crate::common::pgdb;

/// Minutes apart, oldest first.
fn message(i: usize, text: &str) -> ReplicaMessage {
    ReplicaMessage {
        id: format!("m{i:05}"),
        thread_id: Some(format!("t{i:05}")),
        subject: Some(format!("note {i}")),
        from_email: Some("ada@example.com".into()),
        received_ms: 1_700_000_000_000 + i as i64 * 60_000,
        labels: vec!["INBOX".into()],
        is_read: true,
        snippet: Some(text.to_string()),
        body_text: Some(text.to_string()),
        ..Default::default()
    }
}

/// A store holding `n` messages with `word` once, two of them (`relevant`: one among the
/// newest, one old) with `word` many times, and one message without it.
async fn corpus(store: &Store, n: usize, word: &str, relevant: [usize; 2]) -> String {
    let org = store.create_org("search").await.unwrap();
    let row = store
        .insert_connector(NewConnector {
            organization_id: org.id,
            customer_name: "c".into(),
            connector_type: "gmail".into(),
            definition_id: "d".into(),
            name: "n".into(),
            replication_config: json!({"enabled": true, "bodies": "text"}),
            credentials: vec![0],
            credentials_key_id: "none".into(),
            base_url: None,
            token_url: None,
        })
        .await
        .unwrap();
    store
        .context_start(&row.id, &row.organization_id, "{}")
        .await
        .unwrap();
    store.context_claim("t", i64::MAX / 2, 1).await.unwrap();
    let mut all: Vec<ReplicaMessage> = (0..n)
        .map(|i| {
            let text = if relevant.contains(&i) {
                format!("{word} {word} {word} {word} {word} {word}")
            } else {
                format!("filler text {word} and more filler words here")
            };
            message(i, &text)
        })
        .collect();
    all.push(message(n, "nothing to see"));
    for (k, page) in all.chunks(1000).enumerate() {
        let next = (k + 1 < all.len().div_ceil(1000)).then_some("more");
        assert!(store
            .context_backfill_page(&row.id, "t", page, next)
            .await
            .unwrap());
    }
    row.id
}

/// Every hit of a search for `word`, page by page.
async fn pages(store: &Store, id: &str, word: &str, window: i64, size: i64) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let q = StoreQuery {
            words: vec![word.to_string()],
            limit: size,
            offset: ids.len() as i64,
            rank_window: Some(window),
            ..Default::default()
        };
        let hits = store.context_search(id, &q).await.unwrap();
        assert!(
            hits.iter()
                .all(|h| h.highlight.as_deref().unwrap_or("").contains("**")),
            "every hit, ranked or not, has its highlight"
        );
        let got = hits.len() as i64;
        ids.extend(hits.into_iter().map(|h| h.message_id));
        if got < size {
            return ids;
        }
    }
}

async fn ranks_the_newest_matches_then_lists_the_rest_newest_first(
    store: &Store,
    n: usize,
    size: i64,
) {
    let word = "quokka";
    let (recent, old) = (n - 3, 5);
    let id = corpus(store, n, word, [recent, old]).await;
    let window = 10;
    let ids = pages(store, &id, word, window, size).await;
    let newest_first: Vec<String> = (0..n).rev().map(|i| format!("m{i:05}")).collect();

    // Every match once; the message without the word nowhere.
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), n, "each match on exactly one page");
    assert_eq!(ids.len(), n);
    assert!(!ids.contains(&format!("m{n:05}")));
    // The window: the newest 10 matches, the relevant one first.
    assert_eq!(ids[0], format!("m{recent:05}"));
    let mut head = ids[..window as usize].to_vec();
    head.sort();
    let mut newest = newest_first[..window as usize].to_vec();
    newest.sort();
    assert_eq!(head, newest);
    // After the window: newest first, the old relevant message at its date's place.
    assert_eq!(ids[window as usize..], newest_first[window as usize..]);

    // A window wider than the matches ranks them all: both relevant messages lead.
    let all = pages(store, &id, word, n as i64 + 10, size).await;
    assert_eq!(all[..2], [format!("m{recent:05}"), format!("m{old:05}")]);
}

#[actix_web::test]
async fn a_text_search_ranks_the_newest_matches_then_the_rest_newest_first_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}/s.db", dir.path().display()))
        .await
        .unwrap();
    // Pages of 7 cross the window's edge.
    ranks_the_newest_matches_then_lists_the_rest_newest_first(&store, 40, 7).await;
}

#[actix_web::test]
async fn a_common_word_is_searched_newest_first_with_the_same_order_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}/s.db", dir.path().display()))
        .await
        .unwrap();
    // More rows than the index-first plan takes: the newest-first plan answers.
    ranks_the_newest_matches_then_lists_the_rest_newest_first(&store, 5_200, 997).await;
}

#[actix_web::test]
async fn a_text_search_ranks_the_newest_matches_then_the_rest_newest_first_on_postgres() {
    let Some(db) = pgdb::fresh().await else {
        return;
    };
    let store = Store::open(db.url()).await.unwrap();
    ranks_the_newest_matches_then_lists_the_rest_newest_first(&store, 40, 7).await;
    store.close().await;
}
