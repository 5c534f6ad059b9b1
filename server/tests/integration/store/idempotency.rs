//! Idempotency claims: one winner among concurrent claims, takeover of an ended lease, and
//! fencing of an owner that lost its claim.

use server::store::{now, IdempotencyEntry, IdempotencySlot, Store};

use super::fixtures::{new_connector, org};

async fn slot(store: &Store) -> IdempotencySlot {
    let acme = org(store, "acme").await;
    let c = store
        .insert_connector(new_connector(&acme.id, "alice", "gmail", "def-g"))
        .await
        .unwrap();
    IdempotencySlot {
        organization_id: acme.id,
        connector_id: c.id,
        key_hash: "k".repeat(64),
    }
}

both_backends! {
    async fn concurrent_claims_have_exactly_one_winner(store: Store) {
        let slot = slot(&store).await;
        let t = now();
        for round in 0..3 {
            let s = IdempotencySlot { key_hash: format!("key-{round}"), ..slot.clone() };
            let claims = (0..12).map(|_| {
                let (store, s) = (store.clone(), s.clone());
                tokio::spawn(async move {
                    store.claim_idempotency_key(&s, "req", t, t + 300, t + 86_400).await.unwrap()
                })
            });
            let won = futures::future::join_all(claims)
                .await
                .into_iter()
                .filter(|r| *r.as_ref().unwrap())
                .count();
            assert_eq!(won, 1, "round {round}");
            assert_eq!(
                store.idempotency_entry(&s).await.unwrap(),
                Some(IdempotencyEntry::Pending { request_hash: "req".into(), locked_until: t + 300 })
            );
        }
    }

    async fn the_owner_stores_its_answer_once(store: Store) {
        let slot = slot(&store).await;
        let t = now();
        assert!(store.idempotency_entry(&slot).await.unwrap().is_none());
        assert!(store.claim_idempotency_key(&slot, "req", t, t + 300, t + 86_400).await.unwrap());
        assert!(!store.claim_idempotency_key(&slot, "other", t, t + 300, t + 86_400).await.unwrap());
        // A live lease cannot be taken over, and a stranger's lease value writes nothing.
        assert!(!store.take_over_idempotency_key(&slot, t + 1, t + 600).await.unwrap());
        assert!(!store.finish_idempotency_key(&slot, t + 1, b"x", t + 86_400).await.unwrap());
        assert!(store.finish_idempotency_key(&slot, t + 300, b"sealed\0answer", t + 86_400).await.unwrap());
        assert_eq!(
            store.idempotency_entry(&slot).await.unwrap(),
            Some(IdempotencyEntry::Done { request_hash: "req".into(), response: b"sealed\0answer".to_vec() })
        );
        // Done: neither released nor taken over nor finished again.
        assert!(!store.release_idempotency_key(&slot, t + 300).await.unwrap());
        assert!(!store.take_over_idempotency_key(&slot, t + 300, t + 900).await.unwrap());
        assert!(!store.finish_idempotency_key(&slot, t + 300, b"y", t + 86_400).await.unwrap());
    }

    async fn an_ended_lease_is_taken_over_by_one_request_and_fences_the_old_owner(store: Store) {
        let slot = slot(&store).await;
        let t = now();
        // A request claimed the key and crashed: its lease ended 10 s ago.
        assert!(store.claim_idempotency_key(&slot, "req", t - 400, t - 10, t + 86_000).await.unwrap());
        let takeovers = (0..8).map(|_| {
            let (store, s) = (store.clone(), slot.clone());
            tokio::spawn(async move { store.take_over_idempotency_key(&s, t - 10, t + 300).await.unwrap() })
        });
        let won = futures::future::join_all(takeovers)
            .await
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(won, 1);
        // The old owner, if it was only slow, can neither store nor release any more.
        assert!(!store.finish_idempotency_key(&slot, t - 10, b"late", t + 86_400).await.unwrap());
        assert!(!store.release_idempotency_key(&slot, t - 10).await.unwrap());
        // The new owner releases (a transient failure): the key is free for a retry.
        assert!(store.release_idempotency_key(&slot, t + 300).await.unwrap());
        assert!(store.idempotency_entry(&slot).await.unwrap().is_none());
        assert!(store.claim_idempotency_key(&slot, "req", t, t + 300, t + 86_400).await.unwrap());
    }

    async fn expired_keys_are_purged(store: Store) {
        let slot = slot(&store).await;
        let t = now();
        let old = IdempotencySlot { key_hash: "old".into(), ..slot.clone() };
        assert!(store.claim_idempotency_key(&old, "req", t - 90_000, t - 89_700, t - 3_600).await.unwrap());
        assert!(store.finish_idempotency_key(&old, t - 89_700, b"a", t - 3_600).await.unwrap());
        store.purge_idempotency_key(&slot, t).await.unwrap();
        assert!(store.idempotency_entry(&old).await.unwrap().is_some(), "purge is per key");
        store.purge_idempotency_key(&old, t).await.unwrap();
        assert!(store.idempotency_entry(&old).await.unwrap().is_none());
        // Claims sweep every expired key of every connector.
        let other = IdempotencySlot { key_hash: "other".into(), ..slot.clone() };
        assert!(store.claim_idempotency_key(&other, "req", t - 90_000, t - 89_700, t - 1).await.unwrap());
        assert!(store.claim_idempotency_key(&slot, "req", t, t + 300, t + 86_400).await.unwrap());
        assert!(store.idempotency_entry(&other).await.unwrap().is_none());
    }
}
