//! Wrapped data keys: one active per organization, compare-and-set rewrapping.

use server::store::{DataKeyRow, Store};

use super::fixtures::{all_bytes, org};

fn key(id: &str, org: &str, master: &str, wrapped: Vec<u8>) -> DataKeyRow {
    DataKeyRow {
        id: id.to_string(),
        organization_id: org.to_string(),
        master_key_id: master.to_string(),
        wrapped,
    }
}

both_backends! {
    async fn one_active_data_key_per_organization_even_when_inserted_concurrently(store: Store) {
        let acme = org(&store, "acme").await;
        let other = org(&store, "other").await;
        assert!(store.active_data_key(&acme.id).await.unwrap().is_none());
        // Replicas creating the first key of an organization at once agree on one.
        let inserts = (0..8).map(|i| {
            let store = store.clone();
            let k = key(&format!("dk-{i}"), &acme.id, "mk-1", vec![i as u8; 40]);
            tokio::spawn(async move { store.insert_data_key(&k).await.unwrap() })
        });
        let winners: Vec<DataKeyRow> = futures::future::join_all(inserts)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let active = store.active_data_key(&acme.id).await.unwrap().unwrap();
        assert!(winners.iter().all(|w| w.id == active.id), "{winners:?}");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE organization_id = $1")
            .bind(&acme.id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 1);

        let mine = store.insert_data_key(&key("dk-o", &other.id, "mk-1", all_bytes())).await.unwrap();
        assert_eq!(mine.id, "dk-o");
        assert_eq!(mine.wrapped, all_bytes());
        let by_id = store.data_key("dk-o").await.unwrap().unwrap();
        assert_eq!((by_id.organization_id, by_id.master_key_id), (other.id.clone(), "mk-1".to_string()));
        assert!(store.data_key("dk-none").await.unwrap().is_none());
    }

    async fn rewrapping_is_compare_and_set(store: Store) {
        let a = org(&store, "a").await;
        let b = org(&store, "b").await;
        store.insert_data_key(&key("k-a", &a.id, "mk-old", vec![1; 32])).await.unwrap();
        store.insert_data_key(&key("k-b", &b.id, "mk-new", vec![2; 32])).await.unwrap();
        let todo = store.data_keys_not_wrapped_by("mk-new").await.unwrap();
        assert_eq!(todo.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["k-a"]);

        assert!(store.rewrap_data_key("k-a", &[1; 32], "mk-new", &all_bytes()).await.unwrap());
        // A second rotation that read the old wrapping loses instead of overwriting.
        assert!(!store.rewrap_data_key("k-a", &[1; 32], "mk-other", &[9; 32]).await.unwrap());
        let now = store.data_key("k-a").await.unwrap().unwrap();
        assert_eq!((now.master_key_id.as_str(), now.wrapped), ("mk-new", all_bytes()));
        assert!(store.data_keys_not_wrapped_by("mk-new").await.unwrap().is_empty());
    }
}
