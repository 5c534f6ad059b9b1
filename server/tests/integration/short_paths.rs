//! Short paths: `/connectors...` serves the same routes as `/api/v1/integrations/connectors...`.

use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::{json, Value};
use server::registry::Registry;
use server::{AppState, Config};

use crate::common::tenant_api;

async fn call(
    state: &web::Data<AppState>,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, bytes) = tenant_api::send(state, method.parse().unwrap(), path, auth, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn connector_routes_answer_without_the_prefix() {
    let sb = sandbox_gmail::GmailSandbox::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.providers.entry("gmail").base_url = Some(sb.base_url());
    config.providers.entry("gmail").token_url = Some(sb.token_url());
    let registry = Registry::builtin(&config.providers);
    let state = web::Data::new(AppState::with_registry(config, registry).await.unwrap());
    let org = state.store.create_org("acme").await.unwrap();
    let app = server::auth::create_application(&state.store, &org.id)
        .await
        .unwrap();
    let (status, tok) = call(
        &state,
        "POST",
        "/api/v1/account/applications/token",
        None,
        Some(json!({"client_id": app.client_id, "client_secret": app.client_secret.expose()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    let token = tok["access_token"].as_str().unwrap().to_string();
    let auth = Some((token.as_str(), org.id.as_str()));

    // Auth applies to the short form too.
    let (status, _) = call(&state, "GET", "/connectors", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let (status, created) = call(
        &state,
        "POST",
        "/connectors",
        auth,
        Some(json!({"customer_name": "alice", "connector_type": "gmail",
            "credentials": {"refresh_token": rt, "client_id": "cid", "client_secret": "cs"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();

    let (status, listed) = call(&state, "GET", "/connectors?customer_name=alice", auth, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["data"][0]["id"], id);
    let (_, long) = call(
        &state,
        "GET",
        "/api/v1/integrations/connectors?customer_name=alice",
        auth,
        None,
    )
    .await;
    assert_eq!(listed, long, "both forms answer the same");

    let (status, got) = call(&state, "GET", &format!("/connectors/{id}"), auth, None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["id"], id);

    let (status, out) = call(
        &state,
        "POST",
        &format!("/connectors/{id}/execute"),
        auth,
        Some(json!({"entity": "messages", "action": "list", "params": {"max_results": 2}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert!(out["result"].as_array().unwrap().len() <= 2);
    assert_eq!(out["connector_metadata"]["connector_id"], id);

    let (status, _) = call(&state, "GET", "/connectors/nope", auth, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&state, "DELETE", &format!("/connectors/{id}"), auth, None).await;
    assert!(status.is_success());
    let (status, _) = call(&state, "GET", &format!("/connectors/{id}"), auth, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
