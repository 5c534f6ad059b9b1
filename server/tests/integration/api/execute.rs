//! Execute through the real Gmail connector against the in-process Gmail emulator.

use actix_web::http::{Method, StatusCode};
use sandbox_gmail::{GmailSandbox, SandboxConfig, TokenRule};
use serde_json::{json, Value};
use server::credentials::StoredCredentials;

use crate::common::harness::*;

/// An emulator and a harness whose Gmail provider points at it.
async fn setup(rotate: bool) -> (GmailSandbox, Harness, Tenant) {
    // With a token rule, the emulator accepts only issued (unexpired) tokens and this one.
    let sb = GmailSandbox::start(SandboxConfig {
        rotate_refresh_tokens: Some(rotate),
        quotas: false,
        tokens: vec![TokenRule::new(
            "fixed-test-token",
            "ada@example.com",
            connector_gmail::SCOPES_FULL,
        )],
        ..Default::default()
    })
    .unwrap();
    let (base, token_url) = (sb.base_url(), sb.token_url());
    let h = harness_with(move |c| {
        c.providers.entry("gmail").base_url = Some(base);
        c.providers.entry("gmail").token_url = Some(token_url);
    })
    .await;
    let t = h.tenant("acme").await;
    (sb, h, t)
}

fn creds(refresh: &str) -> Value {
    json!({"refresh_token": refresh, "client_id": "cid", "client_secret": "csecret"})
}

async fn exec(
    h: &Harness,
    t: &Tenant,
    id: &str,
    entity: &str,
    action: &str,
    params: Value,
) -> (StatusCode, Value) {
    h.post(
        &format!("{CONNECTORS}/{id}/execute"),
        t,
        json!({"entity": entity, "action": action, "params": params}),
    )
    .await
}

async fn stored(h: &Harness, t: &Tenant, id: &str) -> StoredCredentials {
    let row = h
        .state
        .store
        .get_connector(&t.org, id)
        .await
        .unwrap()
        .unwrap();
    let plain = h
        .state
        .vault
        .decrypt(&t.org, &row.credentials)
        .await
        .unwrap();
    serde_json::from_slice(&plain).unwrap()
}

#[actix_web::test]
async fn execute_lists_and_reads_messages_with_connector_metadata() {
    let (sb, h, t) = setup(false).await;
    let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let id = h.connector(&t, "alice", creds(&rt)).await;
    let (status, listed) = exec(&h, &t, &id, "messages", "list", json!({"max_results": 5})).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let list = listed["result"].as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 5, "{listed}");
    let meta = &listed["connector_metadata"];
    assert_eq!(meta["connector_id"], id.as_str());
    assert_eq!(meta["connector_type"], "gmail");
    assert_eq!(meta["entity"], "messages");
    assert_eq!(meta["action"], "list");
    let first = list[0]["id"].as_str().unwrap();
    let (status, one) = exec(&h, &t, &id, "messages", "get", json!({"message_id": first})).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["result"]["id"], first);
    // The refresh ran and was recorded.
    let (_, st) = h.get(&format!("{CONNECTORS}/{id}/status"), &t).await;
    assert_eq!(st["status"], "active");
    assert!(st["last_refresh_at"].is_string(), "{st}");
    assert!(
        st["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("https://mail.google.com/")),
        "{st}"
    );
    assert!(stored(&h, &t, &id).await.get("access_token").is_some());
}

#[actix_web::test]
async fn core_errors_keep_their_code_and_status() {
    let (sb, h, t) = setup(false).await;
    let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let id = h.connector(&t, "alice", creds(&rt)).await;
    assert_error(
        &exec(&h, &t, &id, "messgaes", "list", json!({})).await,
        400,
        "unknown_entity",
    );
    assert_error(
        &exec(&h, &t, &id, "messages", "lst", json!({})).await,
        400,
        "unknown_action",
    );
    let got = exec(
        &h,
        &t,
        &id,
        "messages",
        "list",
        json!({"max_results": "many"}),
    )
    .await;
    assert_error(&got, 400, "invalid_params");
    assert!(
        got.1["error"]["details"]
            .to_string()
            .contains("max_results"),
        "{}",
        got.1
    );
    let got = exec(
        &h,
        &t,
        &id,
        "messages",
        "get",
        json!({"message_id": "ffffffffffffffff"}),
    )
    .await;
    assert_error(&got, 404, "not_found");
}

#[actix_web::test]
async fn rotated_refresh_tokens_are_stored_encrypted_before_use() {
    let (sb, h, t) = setup(true).await;
    let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let id = h.connector(&t, "alice", creds(&rt)).await;
    let (status, body) = exec(&h, &t, &id, "messages", "list", json!({"max_results": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = stored(&h, &t, &id).await;
    let rotated = after.get("refresh_token").unwrap().expose().to_string();
    assert_ne!(rotated, rt, "the rotated refresh token was not stored");
    // A fresh instance (cache lost, as after a restart) must use the stored, rotated token:
    // the emulator revoked the original one.
    h.state.runtime.forget(&id).await;
    sb.expire_access_tokens();
    let before = sb.stats().token_requests;
    let (status, body) = exec(&h, &t, &id, "messages", "list", json!({"max_results": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(sb.stats().token_requests > before);
    assert_ne!(
        stored(&h, &t, &id)
            .await
            .get("refresh_token")
            .unwrap()
            .expose(),
        rotated
    );
}

#[actix_web::test]
async fn invalid_grant_marks_needs_reauth_and_execute_stops_calling_the_provider() {
    let (sb, h, t) = setup(false).await;
    let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let id = h.connector(&t, "alice", creds(&rt)).await;
    assert!(sb.revoke_refresh_token(&rt));
    let got = exec(&h, &t, &id, "messages", "list", json!({})).await;
    assert_error(&got, 424, "needs_reauth");
    let (_, st) = h.get(&format!("{CONNECTORS}/{id}/status"), &t).await;
    assert_eq!(st["status"], "needs_reauth");
    assert!(st["reason"].as_str().unwrap().contains("refresh"), "{st}");
    sb.reset_stats();
    let got = exec(&h, &t, &id, "messages", "list", json!({})).await;
    assert_error(&got, 424, "needs_reauth");
    assert_eq!(
        sb.stats().http_requests,
        0,
        "the provider was called for a needs_reauth connector"
    );
    // New credentials make it active again.
    let rt2 = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let (status, body) = h
        .send(
            Req::new(Method::PATCH, format!("{CONNECTORS}/{id}"))
                .by(&t)
                .json(json!({"credentials": creds(&rt2)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    let (status, body) = exec(&h, &t, &id, "messages", "list", json!({"max_results": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[actix_web::test]
async fn replication_config_sets_the_spam_and_trash_default_and_params_win() {
    let (sb, h, t) = setup(false).await;
    let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let raw =
        b"From: spammer@example.net\r\nTo: ada@example.com\r\nSubject: cheap pills\r\n\r\nbuy\r\n";
    let spam_id = sb.insert_message("ada@example.com", raw, &["SPAM"]);
    let (status, created) = h
        .post(
            CONNECTORS,
            &t,
            json!({"customer_name": "alice", "connector_type": "gmail", "credentials": creds(&rt),
                   "replication_config": {"include_spam_and_trash": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    let ids = |v: &Value| -> Vec<String> {
        // `ids_only` answers a plain array of ids.
        v["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect()
    };
    let (_, with) = exec(
        &h,
        &t,
        id,
        "messages",
        "list",
        json!({"max_results": 500, "ids_only": true}),
    )
    .await;
    assert!(ids(&with).contains(&spam_id), "{with}");
    let (_, without) = exec(
        &h,
        &t,
        id,
        "messages",
        "list",
        json!({"max_results": 500, "ids_only": true, "include_spam_trash": false}),
    )
    .await;
    assert!(!ids(&without).contains(&spam_id), "{without}");
}

#[actix_web::test]
async fn tools_and_connector_types_describe_the_spec() {
    let (_sb, h, t) = setup(false).await;
    let id = h
        .connector(&t, "alice", json!({"access_token": "ya29.x"}))
        .await;
    for format in ["openai", "anthropic", "mcp"] {
        let (status, body) = h
            .get(&format!("{CONNECTORS}/{id}/tools?format={format}"), &t)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body["data"].as_array().is_some_and(|a| !a.is_empty()),
            "{format}: {body}"
        );
    }
    assert_error(
        &h.get(&format!("{CONNECTORS}/{id}/tools?format=xml"), &t)
            .await,
        400,
        "invalid_params",
    );
    let (status, types) = h.get("/api/v1/connector-types", &t).await;
    assert_eq!(status, StatusCode::OK);
    let gmail = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["connector_type"] == "gmail")
        .unwrap();
    assert_eq!(
        gmail["definition_id"],
        "f7833dac-fc18-4feb-a2a9-94b22001edc6"
    );
    assert!(gmail["spec"]["entities"]["messages"]["actions"]["list"]["params"].is_object());
    assert!(
        gmail["tools"]["execute"]["name"].is_string(),
        "{}",
        gmail["tools"]["execute"]
    );
    assert!(!gmail["tools"]["mcp"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn outlook_connectors_execute_against_the_graph_emulator_with_rotating_refresh_tokens() {
    use sandbox_outlook::{OutlookSandbox, SandboxConfig as GraphConfig};
    let sb = OutlookSandbox::start(GraphConfig {
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let (base, token_url) = (sb.base_url(), sb.token_url());
    let h = harness_with(move |c| {
        c.providers.entry("outlook").base_url = Some(base);
        c.providers.entry("outlook").token_url = Some(token_url);
    })
    .await;
    let t = h.tenant("acme").await;
    let rt = sb.issue_refresh_token("ada@example.com", connector_outlook::SCOPES);
    // A public client: a refresh token and a client id, no secret.
    let (status, created) = h
        .post(
            CONNECTORS,
            &t,
            json!({"customer_name": "alice", "connector_type": "outlook",
                   "credentials": {"refresh_token": rt, "client_id": "public-client"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["definition_id"], connector_outlook::DEFINITION_ID);
    let id = created["id"].as_str().unwrap();
    let (status, listed) = exec(&h, &t, id, "messages", "list", json!({"top": 3})).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert!(!listed["result"].as_array().unwrap().is_empty());
    assert_eq!(listed["connector_metadata"]["connector_type"], "outlook");
    let rotated = stored(&h, &t, id)
        .await
        .get("refresh_token")
        .unwrap()
        .expose()
        .to_string();
    assert_ne!(rotated, rt, "Microsoft-style rotation was not stored");
    let (_, by_type) = h
        .get(&format!("{CONNECTORS}?connector_type=outlook"), &t)
        .await;
    assert_eq!(by_type["data"].as_array().unwrap().len(), 1);
}

/// A provider stand-in that answers `{}` to every request and counts the TCP connections it
/// accepts.
async fn counting_provider() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut buf, mut seen) = (vec![0u8; 8192], Vec::new());
                while let Ok(n @ 1..) = sock.read(&mut buf).await {
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if sock.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (base, accepted)
}

/// Every connector instance of the server sends over one keep-alive pool: one reqwest client
/// per instance (its TLS roots, pool and idle connections) held hundreds of MB once every
/// stored connector was polled for events.
#[actix_web::test]
async fn the_connectors_of_a_server_share_one_provider_connection_pool() {
    let (base, accepted) = counting_provider().await;
    let h = harness_with(move |c| c.providers.entry("gmail").base_url = Some(base)).await;
    let t = h.tenant("acme").await;
    for i in 0..5 {
        let id = h
            .connector(&t, &format!("c{i}"), json!({"access_token": "t"}))
            .await;
        // The stand-in's `{}` is no Gmail message; only the connection it came over counts.
        exec(&h, &t, &id, "messages", "get", json!({"message_id": "m1"})).await;
    }
    let n = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=2).contains(&n),
        "5 connectors' calls opened {n} connections"
    );
}
