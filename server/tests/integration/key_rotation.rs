//! `connectors keys rotate` with live traffic: executes through `create_app` keep succeeding
//! while a new master key is added and every data key is re-wrapped, and a second server that
//! loaded only the old key follows the key file.

use actix_web::http::StatusCode;
use actix_web::{test, web};
use sandbox_gmail::{GmailSandbox, SandboxConfig};
use serde_json::{json, Value};
use server::registry::Registry;
use server::vault::{MasterKey, Vault};
use server::{create_app, AppState, Config};

use crate::common::harness::*;

fn config(dir: &std::path::Path, sb: &GmailSandbox) -> Config {
    let mut c = Config::for_data_dir(dir);
    c.providers.entry("gmail").base_url = Some(sb.base_url());
    c.providers.entry("gmail").token_url = Some(sb.token_url());
    c
}

fn list() -> Value {
    json!({"entity": "messages", "action": "list", "params": {"max_results": 2}})
}

async fn execute(h: &Harness, t: &Tenant, id: &str) -> (StatusCode, Value) {
    h.post(&format!("{CONNECTORS}/{id}/execute"), t, list())
        .await
}

#[tokio::test]
async fn rotation_with_live_traffic_rewraps_every_data_key_and_no_execute_fails() {
    let sb = GmailSandbox::start(SandboxConfig {
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let (base, token_url) = (sb.base_url(), sb.token_url());
    let h = harness_with(move |c| {
        c.providers.entry("gmail").base_url = Some(base);
        c.providers.entry("gmail").token_url = Some(token_url);
    })
    .await;
    let creds =
        |rt: String| json!({"refresh_token": rt, "client_id": "cid", "client_secret": "cs"});
    let mut tenants = Vec::new();
    for name in ["acme", "globex", "initech"] {
        let t = h.tenant(name).await;
        let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
        let id = h.connector(&t, "alice", creds(rt)).await;
        let (status, body) = execute(&h, &t, &id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tenants.push((t, id));
    }
    let old_id = h.state.vault.master_key_id();
    // A second replica on the same database, started before the rotation (old key only).
    let replica = AppState::with_registry(
        config(h.dir.path(), &sb),
        Registry::builtin(&config(h.dir.path(), &sb).providers),
    )
    .await
    .unwrap();
    assert_eq!(replica.vault.master_key_id(), old_id);

    // Live traffic on the first server while the rotation runs (as `keys rotate` does it: new
    // key first in the key file, then a vault of its own re-wraps the data keys).
    let traffic = async {
        let mut statuses = Vec::new();
        for round in 0..8 {
            let calls = tenants.iter().map(|(t, id)| execute(&h, t, id));
            for (status, body) in futures::future::join_all(calls).await {
                assert_eq!(status, StatusCode::OK, "round {round}: {body}");
                statuses.push(status);
            }
            tokio::task::yield_now().await;
        }
        statuses.len()
    };
    let rotation = async {
        let key_file = h.dir.path().join("master.key");
        let new_id = server::cli::add_key_to_file(&key_file).unwrap();
        tokio::task::yield_now().await;
        let rotator = Vault::new(
            MasterKey::load(&config(h.dir.path(), &sb)).unwrap(),
            h.state.store.clone(),
        );
        assert_eq!(rotator.master_key_id(), new_id);
        let n = rotator.rewrap_all().await.unwrap();
        (new_id, n)
    };
    // An organization created during the rotation gets its data key from the new master key.
    let newcomer = async {
        tokio::task::yield_now().await;
        let t = h.tenant("hooli").await;
        let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
        let id = h.connector(&t, "bob", creds(rt)).await;
        let (status, body) = execute(&h, &t, &id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (t, id)
    };
    let (calls, (new_id, rewrapped), (t4, c4)) = tokio::join!(traffic, rotation, newcomer);
    assert_eq!(calls, 24);
    assert_ne!(new_id, old_id);
    assert!(
        rewrapped >= 3,
        "the three existing data keys were re-wrapped: {rewrapped}"
    );

    // Every data key is now wrapped by the new master key.
    assert!(h
        .state
        .store
        .data_keys_not_wrapped_by(&new_id)
        .await
        .unwrap()
        .is_empty());
    for (t, _) in tenants.iter().chain([(t4.clone(), c4.clone())].iter()) {
        let key = h
            .state
            .store
            .active_data_key(&t.org)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(key.master_key_id, new_id);
        assert_eq!(
            server::vault::key_id_of(&key.wrapped),
            Some(new_id.as_str())
        );
    }
    // The key file lists the new key first and keeps the old one.
    let loaded = MasterKey::load(&config(h.dir.path(), &sb)).unwrap();
    assert_eq!(loaded.ids(), vec![new_id.clone(), old_id.clone()]);

    // Old connectors keep executing on both servers; the replica (empty cache, old key in
    // memory) re-reads the key file when it meets the new key id.
    for (t, id) in &tenants {
        let (status, body) = execute(&h, t, id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let app = test::init_service(create_app(web::Data::new(replica))).await;
    for (t, id) in tenants.iter().chain([(t4, c4)].iter()) {
        let req = test::TestRequest::post()
            .uri(&format!("{CONNECTORS}/{id}/execute"))
            .insert_header(("Authorization", format!("Bearer {}", t.token)))
            .insert_header(("X-Organization-Id", t.org.clone()))
            .set_json(list())
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }

    // The old key alone no longer opens the re-wrapped data keys.
    let old_only = MasterKey::parse(
        std::fs::read_to_string(h.dir.path().join("master.key"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(old_only.id(), old_id);
    let stale = Vault::new(old_only, h.state.store.clone());
    let row = h
        .state
        .store
        .get_connector(&tenants[0].0.org, &tenants[0].1)
        .await
        .unwrap()
        .unwrap();
    assert!(stale
        .decrypt(&tenants[0].0.org, &row.credentials)
        .await
        .is_err());
}
