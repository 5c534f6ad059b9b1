//! Connectors: CRUD, filters, status, refreshed credentials, credentials_version.

use serde_json::json;
use server::store::{ConnectorFilter, ConnectorUpdate, Store};

use super::fixtures::{all_bytes, new_connector, org};

fn filter(limit: i64) -> ConnectorFilter {
    ConnectorFilter {
        limit,
        ..ConnectorFilter::default()
    }
}

both_backends! {
    async fn connectors_round_trip_every_field(store: Store) {
        let acme = org(&store, "acme").await;
        let other = org(&store, "other").await;
        let row = store
            .insert_connector(new_connector(&acme.id, "alice", "gmail", "def-g"))
            .await
            .unwrap();
        assert_eq!(row.organization_id, acme.id);
        assert_eq!(row.customer_name, "alice");
        assert_eq!(row.connector_type, "gmail");
        assert_eq!(row.definition_id, "def-g");
        assert_eq!(row.name, "gmail of alice");
        assert_eq!(row.replication_config, json!({"labels": ["INBOX"], "n": 1}));
        assert_eq!(row.credentials, all_bytes());
        assert_eq!(row.credentials_version, 1);
        assert_eq!(row.base_url, None);
        assert_eq!(row.token_url.as_deref(), Some("http://127.0.0.1:1/token"));
        assert_eq!(row.status, "active");
        assert_eq!((row.status_reason.as_deref(), row.scopes.as_deref()), (None, None));
        assert_eq!(row.last_refresh_at, None);
        assert!(row.created_at > 1_700_000_000 && row.created_at == row.updated_at);

        // Another organization neither sees nor changes nor deletes it.
        assert!(store.get_connector(&other.id, &row.id).await.unwrap().is_none());
        let patch = ConnectorUpdate { name: Some("x".into()), ..Default::default() };
        assert!(store.update_connector(&other.id, &row.id, patch).await.unwrap().is_none());
        assert!(!store.delete_connector(&other.id, &row.id).await.unwrap());
        assert_eq!(store.get_connector(&acme.id, &row.id).await.unwrap().unwrap().name, "gmail of alice");

        assert!(store.delete_connector(&acme.id, &row.id).await.unwrap());
        assert!(store.get_connector(&acme.id, &row.id).await.unwrap().is_none());
        assert!(!store.delete_connector(&acme.id, &row.id).await.unwrap());
    }

    async fn lists_filter_by_customer_type_and_definition_and_page(store: Store) {
        let acme = org(&store, "acme").await;
        let other = org(&store, "other").await;
        let mut ids = Vec::new();
        for (customer, kind, def) in [
            ("alice", "gmail", "def-g"),
            ("alice", "outlook", "def-o"),
            ("bob", "gmail", "def-g"),
            ("Alice", "gmail", "def-g"),
            ("bob", "outlook", "def-o"),
        ] {
            ids.push(store.insert_connector(new_connector(&acme.id, customer, kind, def)).await.unwrap().id);
        }
        store.insert_connector(new_connector(&other.id, "alice", "gmail", "def-g")).await.unwrap();

        let names = |rows: Vec<server::store::ConnectorRow>| {
            let mut v: Vec<String> = rows.into_iter().map(|r| format!("{}/{}", r.customer_name, r.connector_type)).collect();
            v.sort();
            v
        };
        let all = store.list_connectors(&acme.id, &filter(100)).await.unwrap();
        assert_eq!(all.len(), 5);
        let alice = ConnectorFilter { customer_name: Some("alice".into()), ..filter(100) };
        // Exact, case-sensitive match on both backends.
        assert_eq!(names(store.list_connectors(&acme.id, &alice).await.unwrap()), ["alice/gmail", "alice/outlook"]);
        let gmail = ConnectorFilter { connector_type: Some("gmail".into()), ..filter(100) };
        assert_eq!(names(store.list_connectors(&acme.id, &gmail).await.unwrap()), ["Alice/gmail", "alice/gmail", "bob/gmail"]);
        let def_o = ConnectorFilter { definition_id: Some("def-o".into()), customer_name: Some("bob".into()), ..filter(100) };
        assert_eq!(names(store.list_connectors(&acme.id, &def_o).await.unwrap()), ["bob/outlook"]);
        let none = ConnectorFilter { customer_name: Some("carol".into()), ..filter(100) };
        assert!(store.list_connectors(&acme.id, &none).await.unwrap().is_empty());

        // Pages are disjoint and in a stable order that covers everything.
        let mut paged = Vec::new();
        for offset in [0, 2, 4] {
            let page = store
                .list_connectors(&acme.id, &ConnectorFilter { offset, ..filter(2) })
                .await
                .unwrap();
            assert!(page.len() <= 2);
            paged.extend(page.into_iter().map(|r| r.id));
        }
        assert_eq!(paged, all.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
        ids.sort();
        paged.sort();
        assert_eq!(paged, ids);
    }

    async fn updates_bump_credentials_version_only_on_replacement(store: Store) {
        let acme = org(&store, "acme").await;
        let row = store.insert_connector(new_connector(&acme.id, "alice", "gmail", "def-g")).await.unwrap();

        let renamed = store
            .update_connector(&acme.id, &row.id, ConnectorUpdate {
                name: Some("Renamed".into()),
                replication_config: Some(json!({"labels": []})),
                ..Default::default()
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!((renamed.name.as_str(), renamed.credentials_version), ("Renamed", 1));
        assert_eq!(renamed.replication_config, json!({"labels": []}));

        store.set_connector_status(&row.id, "needs_reauth", Some("invalid_grant")).await.unwrap();
        let flagged = store.get_connector(&acme.id, &row.id).await.unwrap().unwrap();
        assert_eq!((flagged.status.as_str(), flagged.status_reason.as_deref()), ("needs_reauth", Some("invalid_grant")));

        // A refresh writes the new ciphertext and scopes but keeps the version (cached
        // instances stay valid) and the status.
        store.store_refreshed_credentials(&row.id, b"refreshed\0blob", "dk-2", Some("mail.read")).await.unwrap();
        let refreshed = store.get_connector(&acme.id, &row.id).await.unwrap().unwrap();
        assert_eq!(refreshed.credentials, b"refreshed\0blob");
        assert_eq!(refreshed.credentials_version, 1);
        assert_eq!(refreshed.scopes.as_deref(), Some("mail.read"));
        assert!(refreshed.last_refresh_at.is_some());
        assert_eq!(refreshed.status, "needs_reauth");
        // No scopes in the refresh response: the granted ones stay.
        store.store_refreshed_credentials(&row.id, b"again", "dk-2", None).await.unwrap();
        assert_eq!(store.get_connector(&acme.id, &row.id).await.unwrap().unwrap().scopes.as_deref(), Some("mail.read"));

        // Replacing credentials bumps the version and makes the connector active again.
        let replaced = store
            .update_connector(&acme.id, &row.id, ConnectorUpdate {
                credentials: Some((all_bytes(), "dk-3".into())),
                ..Default::default()
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replaced.credentials, all_bytes());
        assert_eq!(replaced.credentials_version, 2);
        assert_eq!((replaced.status.as_str(), replaced.status_reason), ("active", None));

        // So does re-binding the endpoints.
        let rebound = store
            .update_connector(&acme.id, &row.id, ConnectorUpdate {
                endpoints: Some((Some("http://127.0.0.1:2/api".into()), None)),
                ..Default::default()
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rebound.credentials_version, 3);
        assert_eq!(rebound.base_url.as_deref(), Some("http://127.0.0.1:2/api"));
        assert_eq!(rebound.token_url, None);
        store.set_connector_scopes(&row.id, "a b").await.unwrap();
        assert_eq!(store.get_connector(&acme.id, &row.id).await.unwrap().unwrap().scopes.as_deref(), Some("a b"));
    }

    async fn concurrent_credential_replacements_each_bump_the_version(store: Store) {
        let acme = org(&store, "acme").await;
        let row = store.insert_connector(new_connector(&acme.id, "alice", "gmail", "def-g")).await.unwrap();
        let updates = (0..6).map(|i| {
            let (store, org, id) = (store.clone(), acme.id.clone(), row.id.clone());
            tokio::spawn(async move {
                store
                    .update_connector(&org, &id, ConnectorUpdate {
                        credentials: Some((vec![i; 8], "dk".into())),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .unwrap()
            })
        });
        for u in futures::future::join_all(updates).await {
            u.unwrap();
        }
        let last = store.get_connector(&acme.id, &row.id).await.unwrap().unwrap();
        assert_eq!(last.credentials_version, 7);
    }

    async fn deleting_an_organization_cascades(store: Store) {
        let acme = org(&store, "acme").await;
        let row = store.insert_connector(new_connector(&acme.id, "alice", "gmail", "def-g")).await.unwrap();
        sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(&acme.id)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(store.get_connector(&acme.id, &row.id).await.unwrap().is_none());
        // Foreign keys are enforced (SQLite needs the pragma on every connection).
        let orphan = store.insert_connector(new_connector(&acme.id, "alice", "gmail", "def-g")).await;
        assert!(orphan.is_err());
    }
}
