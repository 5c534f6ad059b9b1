//! OAuth flow storage: single-use states with expiry, BYO apps, organization settings, links.

use server::store::{now, Store};
use server::store::{Link, SettingsRow};

use super::fixtures::{all_bytes, new_connector, org};

both_backends! {
    async fn a_state_is_taken_once_even_by_concurrent_callbacks(store: Store) {
        let acme = org(&store, "acme").await;
        let exp = now() + 600;
        store.insert_oauth_state("h1", &acme.id, "{\"r\":1}", &all_bytes(), exp).await.unwrap();
        let takes = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_oauth_state("h1").await.unwrap() })
        });
        let got: Vec<_> = futures::future::join_all(takes)
            .await
            .into_iter()
            .filter_map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 1, "exactly one callback gets the state");
        let row = &got[0];
        assert_eq!(row.organization_id, acme.id);
        assert_eq!(row.request, "{\"r\":1}");
        assert_eq!(row.verifier, all_bytes());
        assert_eq!(row.expires_at, exp);
        assert!(store.take_oauth_state("h1").await.unwrap().is_none());
        assert!(store.take_oauth_state("never").await.unwrap().is_none());
    }

    async fn states_expire_and_old_ones_are_purged(store: Store) {
        let acme = org(&store, "acme").await;
        store.insert_oauth_state("fresh", &acme.id, "{}", b"v", now() + 600).await.unwrap();
        store.insert_oauth_state("also", &acme.id, "{}", b"v", now() + 600).await.unwrap();
        store.expire_oauth_states(&acme.id).await.unwrap();
        // Expired but recent: still returned, with the expiry the callback checks.
        let taken = store.take_oauth_state("fresh").await.unwrap().unwrap();
        assert!(taken.expires_at < now() + 1);
        // Expired more than an hour ago: purged by the next insert.
        store.insert_oauth_state("ancient", &acme.id, "{}", b"v", now() - 7200).await.unwrap();
        store.insert_oauth_state("next", &acme.id, "{}", b"v", now() + 600).await.unwrap();
        assert!(store.take_oauth_state("ancient").await.unwrap().is_none());
        assert!(store.take_oauth_state("also").await.unwrap().is_some());
        assert!(store.take_oauth_state("next").await.unwrap().is_some());
    }

    async fn byo_apps_are_scoped_to_their_organization(store: Store) {
        let acme = org(&store, "acme").await;
        let other = org(&store, "other").await;
        let g = store.insert_oauth_app(&acme.id, "google", "gid", Some(&all_bytes()), None).await.unwrap();
        let m = store.insert_oauth_app(&acme.id, "microsoft", "mid", None, Some("contoso")).await.unwrap();
        assert_eq!(g.client_secret, Some(all_bytes()));
        assert_eq!((g.provider.as_str(), g.tenant.as_deref()), ("google", None));
        assert_eq!((m.client_secret.as_deref(), m.tenant.as_deref()), (None, Some("contoso")));
        let mut listed: Vec<String> = store.oauth_apps(&acme.id).await.unwrap().into_iter().map(|a| a.id).collect();
        listed.sort();
        let mut expected = vec![g.id.clone(), m.id.clone()];
        expected.sort();
        assert_eq!(listed, expected);
        assert!(store.oauth_apps(&other.id).await.unwrap().is_empty());
        assert!(store.oauth_app(&other.id, &g.id).await.unwrap().is_none());
        assert!(!store.delete_oauth_app(&other.id, &g.id).await.unwrap());

        let mut changed = g.clone();
        changed.client_id = "gid-2".into();
        changed.client_secret = None;
        changed.tenant = Some("t".into());
        store.update_oauth_app(&changed).await.unwrap();
        let now_g = store.oauth_app(&acme.id, &g.id).await.unwrap().unwrap();
        assert_eq!((now_g.client_id.as_str(), now_g.client_secret, now_g.tenant.as_deref()), ("gid-2", None, Some("t")));
        assert!(store.delete_oauth_app(&acme.id, &g.id).await.unwrap());
        assert!(store.oauth_app(&acme.id, &g.id).await.unwrap().is_none());
    }

    async fn org_settings_default_then_upsert(store: Store) {
        let acme = org(&store, "acme").await;
        let empty = store.org_settings(&acme.id).await.unwrap();
        assert!(empty.redirect_allowlist.is_empty() && empty.webhook_url.is_none());
        let s = SettingsRow {
            redirect_allowlist: vec!["https://app.example/cb".into(), "http://127.0.0.1:9/x".into()],
            webhook_url: Some("https://hooks.example/in".into()),
            webhook_secret: Some(all_bytes()),
            raw_credential_apps: vec!["cid-1".into()],
            event_bodies: true,
            display_name: Some("Acme".into()),
            logo_url: Some("https://cdn.acme.example/logo.png".into()),
            connect_return_url: Some("https://app.example/cb/reconnected".into()),
        };
        store.put_org_settings(&acme.id, &s).await.unwrap();
        let got = store.org_settings(&acme.id).await.unwrap();
        assert_eq!(got.display_name, s.display_name);
        assert_eq!(got.logo_url, s.logo_url);
        assert_eq!(got.connect_return_url, s.connect_return_url);
        assert_eq!(got.redirect_allowlist, s.redirect_allowlist);
        assert_eq!(got.webhook_url, s.webhook_url);
        assert_eq!(got.webhook_secret, s.webhook_secret);
        assert_eq!(got.raw_credential_apps, s.raw_credential_apps);
        // A second put replaces (ON CONFLICT DO UPDATE), clearing what is now None.
        store.put_org_settings(&acme.id, &SettingsRow::default()).await.unwrap();
        let cleared = store.org_settings(&acme.id).await.unwrap();
        assert!(cleared.redirect_allowlist.is_empty());
        assert_eq!((cleared.webhook_url, cleared.webhook_secret), (None, None));
    }

    async fn links_find_the_connector_of_an_account(store: Store) {
        let acme = org(&store, "acme").await;
        let c = store.insert_connector(new_connector(&acme.id, "alice", "gmail", "def-g")).await.unwrap();
        let app = store.insert_oauth_app(&acme.id, "google", "gid", None, None).await.unwrap();
        let aliases = vec!["a@x.example".to_string(), "b@x.example".to_string()];
        let link = Link {
            connector_id: &c.id,
            organization_id: &acme.id,
            customer_name: "alice",
            connector_type: "gmail",
            account: "alice@x.example",
            aliases: &aliases,
            oauth_app_id: Some(&app.id),
        };
        store.put_link(&link).await.unwrap();
        assert_eq!(
            store.linked_connector(&acme.id, "alice", "gmail", "alice@x.example").await.unwrap(),
            Some(c.id.clone())
        );
        assert!(store.linked_connector(&acme.id, "alice", "gmail", "ALICE@x.example").await.unwrap().is_none());
        assert_eq!(store.connectors_of_app(&acme.id, &app.id).await.unwrap(), vec![c.id.clone()]);
        let relinked = Link { account: "new@x.example", aliases: &[], oauth_app_id: None, ..link };
        store.put_link(&relinked).await.unwrap();
        assert_eq!(store.link_of(&c.id).await.unwrap(), Some(("new@x.example".to_string(), vec![], None)));
        assert!(store.connectors_of_app(&acme.id, &app.id).await.unwrap().is_empty());
    }
}
