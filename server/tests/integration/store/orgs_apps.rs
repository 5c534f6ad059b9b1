//! Organizations, applications, bearer tokens and their revocation.

use server::services::{Applications, RevokedApp};
use server::store::{now, Store};

use super::fixtures::{is_unique_violation, org};

/// The application service on this store (no token cache: only the database is under test).
fn apps(store: &Store) -> Applications {
    Applications::uncached(store.clone())
}

both_backends! {
    async fn organizations_are_found_by_id_or_exact_name(store: Store) {
        let acme = org(&store, "Acme").await;
        let other = org(&store, "other").await;
        let by_id = store.find_org(&acme.id).await.unwrap().unwrap();
        assert_eq!((by_id.id.as_str(), by_id.name.as_str()), (acme.id.as_str(), "Acme"));
        assert_eq!(store.find_org("Acme").await.unwrap().unwrap().id, acme.id);
        assert_eq!(store.find_org("other").await.unwrap().unwrap().id, other.id);
        // Names compare exactly on both backends (no case folding, no prefix match).
        assert!(store.find_org("acme").await.unwrap().is_none());
        assert!(store.find_org("Acm").await.unwrap().is_none());
        assert!(store.find_org("Acme%").await.unwrap().is_none());
        let dup = store.create_org("Acme").await.unwrap_err();
        assert!(is_unique_violation(&dup), "{dup}");
    }

    async fn tokens_resolve_until_their_application_is_revoked(store: Store) {
        let acme = org(&store, "acme").await;
        let admin = store.create_application(&acme.id, "cid-admin", "hash-a").await.unwrap();
        let app = store.create_application(&acme.id, "cid-2", "hash-b").await.unwrap();
        // Creation times have second resolution: make the admin clearly the oldest.
        sqlx::query("UPDATE applications SET created_at = created_at - 10 WHERE id = $1")
            .bind(&admin.id)
            .execute(store.pool())
            .await
            .unwrap();
        let found = store.find_application("cid-2").await.unwrap().unwrap();
        assert_eq!(found.id, app.id);
        assert_eq!(found.organization_id, acme.id);
        assert_eq!(found.secret_hash, "hash-b");
        assert!(!found.revoked);
        assert!(store.find_application("cid-3").await.unwrap().is_none());
        let dup = store.create_application(&acme.id, "cid-2", "h").await.err().unwrap();
        assert!(is_unique_violation(&dup), "{dup}");

        let exp = now() + 3600;
        store.insert_token("tok-admin", &admin, exp).await.unwrap();
        store.insert_token("tok-1", &app, exp).await.unwrap();
        store.insert_token("tok-2", &app, exp).await.unwrap();
        let rec = store.find_token("tok-1").await.unwrap().unwrap();
        assert_eq!(rec.application_id, app.id);
        assert_eq!(rec.organization_id, acme.id);
        assert_eq!(rec.expires_at, exp);
        assert!(store.find_token("tok-unknown").await.unwrap().is_none());

        let listed = apps(&store).list(&acme.id).await.unwrap();
        let flags: Vec<(&str, bool, bool)> = listed
            .iter()
            .map(|a| (a.client_id.as_str(), a.admin, a.revoked))
            .collect();
        assert_eq!(flags, [("cid-admin", true, false), ("cid-2", false, false)]);
        assert!(apps(&store).is_admin(&acme.id, &admin.id).await.unwrap());
        assert!(!apps(&store).is_admin(&acme.id, &app.id).await.unwrap());

        // Revocation refuses every token of the app at once, and only those.
        let info = apps(&store).revoke(&acme.id, "cid-2").await.unwrap().unwrap();
        assert!(info.revoked && info.revoked_at.is_some());
        assert!(store.find_token("tok-1").await.unwrap().is_none());
        assert!(store.find_token("tok-2").await.unwrap().is_none());
        assert!(store.find_token("tok-admin").await.unwrap().is_some());
        assert!(store.find_application("cid-2").await.unwrap().unwrap().revoked);
        // A token inserted for a revoked application (a race with revoke) is still refused.
        store.insert_token("tok-late", &app, exp).await.unwrap();
        assert!(store.find_token("tok-late").await.unwrap().is_none());
        assert!(apps(&store).revoke(&acme.id, "nope").await.unwrap().is_none());
        assert!(matches!(
            apps(&store).rotate_secret(&acme.id, "cid-2").await.unwrap(),
            Some(Err(RevokedApp))
        ));
    }

    async fn rotating_a_secret_drops_the_tokens_and_changes_the_hash(store: Store) {
        let acme = org(&store, "acme").await;
        let app = store.create_application(&acme.id, "cid", "old-hash").await.unwrap();
        store.insert_token("tok", &app, now() + 3600).await.unwrap();
        let secret = apps(&store).rotate_secret(&acme.id, "cid")
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(!secret.expose().is_empty());
        assert!(store.find_token("tok").await.unwrap().is_none());
        let stored = store.find_application("cid").await.unwrap().unwrap();
        assert_ne!(stored.secret_hash, "old-hash");
        assert!(!stored.secret_hash.contains(secret.expose()));
    }

    async fn expired_tokens_are_purged_and_expiry_can_move(store: Store) {
        let acme = org(&store, "acme").await;
        let app = store.create_application(&acme.id, "cid", "h").await.unwrap();
        // One clock reading: two could straddle a second boundary and disagree by one.
        let t = now();
        store.insert_token("old", &app, t - 10).await.unwrap();
        // Found (the caller checks the expiry) until the next insert purges it.
        assert_eq!(store.find_token("old").await.unwrap().unwrap().expires_at, t - 10);
        store.insert_token("new", &app, t + 60).await.unwrap();
        assert!(store.find_token("old").await.unwrap().is_none());
        store.set_token_expiry("new", 42).await.unwrap();
        assert_eq!(store.find_token("new").await.unwrap().unwrap().expires_at, 42);
    }
}
