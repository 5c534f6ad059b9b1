//! The store suite: every test runs twice, on SQLite (a file in a temporary directory) and on
//! PostgreSQL (a database of its own, see `common::pgdb`), as `<test>::sqlite` and
//! `<test>::postgres`.

/// `both_backends! { async fn name(store: Store) { ... } ... }` makes a module `name` with the
/// tests `sqlite` and `postgres`, each running the body on a fresh, migrated store.
macro_rules! both_backends {
    ($(async fn $name:ident($store:ident: Store) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($store: Store) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let dir = ::tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("nested/dir/store.db").display());
                let store = ::server::store::Store::open(&url).await.unwrap();
                assert_eq!(store.backend(), ::server::store::Backend::Sqlite);
                body(store.clone()).await;
                store.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(db) = crate::common::pgdb::fresh().await else { return };
                let store = ::server::store::Store::open(db.url()).await.unwrap();
                assert_eq!(store.backend(), ::server::store::Backend::Postgres);
                body(store.clone()).await;
                store.close().await;
                drop(db);
            }
        }
    )*};
}

mod attachments;
mod connectors;
mod fixtures;
mod guardrails;
mod idempotency;
mod keys;
mod oauth;
mod open;
mod orgs_apps;
