//! Opening: migrations, reopening, URL errors.

use server::store::{migration_versions, Backend, Store};

both_backends! {
    async fn migrations_are_recorded_with_the_same_versions(store: Store) {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations ORDER BY version")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let expected: Vec<(i64, String)> = migration_versions(store.backend())
            .into_iter().map(|(v, n)| (v, n.to_string())).collect();
        assert_eq!(rows, expected);
        store.ping().await.unwrap();
        store.checkpoint().await.unwrap();
    }
}

#[tokio::test]
async fn reopening_keeps_the_data_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("a/b.db").display());
    let pg = crate::common::pgdb::fresh().await;
    let mut urls = vec![sqlite];
    urls.extend(pg.as_ref().map(|db| db.url().to_string()));
    for url in &urls {
        let store = Store::open(url).await.unwrap();
        let org = store.create_org("kept").await.unwrap();
        store.close().await;
        // Several stores on one database (replicas) migrate once and see the same rows.
        let (a, b) = tokio::join!(Store::open(url), Store::open(url));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.find_org("kept").await.unwrap().unwrap().id, org.id);
        let other = b.create_org("from-b").await.unwrap();
        assert_eq!(a.find_org("from-b").await.unwrap().unwrap().id, other.id);
        a.close().await;
        b.close().await;
    }
    assert!(dir.path().join("a/b.db").exists());
}

#[tokio::test]
async fn bad_urls_are_refused_with_the_option_named_and_no_password() {
    let err = Store::open("mysql://root:hunter2@localhost/x")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--database-url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // Nothing listens on port 1.
    let err = Store::open("postgres://u:hunter2@127.0.0.1:1/db")
        .await
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(
        text.contains("PostgreSQL") && text.contains("--database-url"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(
        Backend::of_url("postgres://h/d").unwrap(),
        Backend::Postgres
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_sqlite_store_is_one_database_for_the_whole_pool() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let org = store.create_org("mem").await.unwrap();
    // Enough concurrent readers to use several pooled connections.
    let reads = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.find_org("mem").await.unwrap().map(|o| o.id) })
    });
    for r in futures::future::join_all(reads).await {
        assert_eq!(r.unwrap().as_deref(), Some(org.id.as_str()));
    }
    store.close().await;
}

#[tokio::test]
async fn sqlite_urls_in_every_documented_form_open() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("x y/abs.db");
    let urls = [
        format!("sqlite://{}", abs.display()),
        format!("sqlite:{}", dir.path().join("plain.db").display()),
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("moded.db").display()
        ),
    ];
    for url in &urls {
        let store = Store::open(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e:#}"));
        store.create_org("o").await.unwrap();
        store.close().await;
    }
    assert!(abs.exists());
    assert!(dir.path().join("plain.db").exists() && dir.path().join("moded.db").exists());
    // Malformed URLs are errors, not panics.
    assert!(Store::open("sqlite://a:b.db").await.is_err());
}
