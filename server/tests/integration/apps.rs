//! Application management: the API for organization admins and the CLI.

use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::{json, Value};
use server::registry::Registry;
use server::{AppState, Config};

use crate::common::tenant_api;

struct App {
    org: String,
    client_id: String,
    client_secret: String,
}

async fn state() -> (web::Data<AppState>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_data_dir(dir.path());
    let registry = Registry::builtin(&config.providers);
    let state = AppState::with_registry(config, registry).await.unwrap();
    (web::Data::new(state), dir)
}

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

async fn new_app(state: &web::Data<AppState>, org: &str) -> App {
    let a = server::auth::create_application(&state.store, org)
        .await
        .unwrap();
    App {
        org: org.to_string(),
        client_id: a.client_id,
        client_secret: a.client_secret.expose().to_string(),
    }
}

async fn token(state: &web::Data<AppState>, app: &App) -> (StatusCode, String) {
    let (status, body) = call(
        state,
        "POST",
        "/api/v1/account/applications/token",
        None,
        Some(json!({"client_id": app.client_id, "client_secret": app.client_secret})),
    )
    .await;
    let tok = body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (status, tok)
}

#[actix_web::test]
async fn admins_list_revoke_and_rotate_and_revoked_tokens_fail_at_once() {
    let (state, _dir) = state().await;
    let org = state.store.create_org("acme").await.unwrap().id;
    let admin = new_app(&state, &org).await;
    // created_at has one-second resolution: the admin must be strictly older.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let worker = new_app(&state, &org).await;
    let (_, admin_tok) = token(&state, &admin).await;
    let (_, worker_tok) = token(&state, &worker).await;
    let admin_auth = Some((admin_tok.as_str(), org.as_str()));
    let worker_auth = Some((worker_tok.as_str(), org.as_str()));

    let (status, listed) = call(
        &state,
        "GET",
        "/api/v1/account/applications",
        admin_auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["client_id"], admin.client_id.as_str());
    assert_eq!(data[0]["admin"], true);
    assert_eq!(data[1]["admin"], false);
    let text = listed.to_string();
    assert!(!text.contains(&admin.client_secret) && !text.contains("argon2"));

    // A non-admin may not manage applications.
    let (status, body) = call(
        &state,
        "GET",
        "/api/v1/account/applications",
        worker_auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "permission_denied");
    let revoke_admin = format!("/api/v1/account/applications/{}/revoke", admin.client_id);
    let (status, _) = call(&state, "POST", &revoke_admin, worker_auth, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The worker's token works, then is refused right after the revoke.
    let (status, _) = call(
        &state,
        "GET",
        "/api/v1/integrations/connectors",
        worker_auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let revoke = format!("/api/v1/account/applications/{}/revoke", worker.client_id);
    let (status, revoked) = call(&state, "POST", &revoke, admin_auth, None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["revoked"], true);
    let (status, body) = call(
        &state,
        "GET",
        "/api/v1/integrations/connectors",
        worker_auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(token(&state, &worker).await.0, StatusCode::UNAUTHORIZED);

    // Rotating the admin's own secret: the old secret and the old token stop working.
    let rotate = format!(
        "/api/v1/account/applications/{}/rotate-secret",
        admin.client_id
    );
    let (status, rotated) = call(&state, "POST", &rotate, admin_auth, None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, admin.client_secret);
    assert_eq!(token(&state, &admin).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &state,
        "GET",
        "/api/v1/integrations/connectors",
        admin_auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let rotated_app = App {
        client_secret: new_secret,
        ..admin
    };
    let (status, fresh) = token(&state, &rotated_app).await;
    assert_eq!(status, StatusCode::OK);
    let fresh_auth = Some((fresh.as_str(), rotated_app.org.as_str()));
    let (status, _) = call(
        &state,
        "GET",
        "/api/v1/account/applications",
        fresh_auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Another organization's applications are not found; a revoked one cannot be rotated.
    let other_org = state.store.create_org("other").await.unwrap().id;
    let stranger = new_app(&state, &other_org).await;
    let path = format!("/api/v1/account/applications/{}/revoke", stranger.client_id);
    let (status, _) = call(&state, "POST", &path, fresh_auth, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        token(&state, &stranger).await.0,
        StatusCode::OK,
        "untouched"
    );
    let path = format!(
        "/api/v1/account/applications/{}/rotate-secret",
        worker.client_id
    );
    let (status, body) = call(&state, "POST", &path, fresh_auth, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

fn run(args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[::std::prelude::v1::test]
fn the_cli_lists_revokes_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    run(&["orgs", "create", "acme", "--data-dir", d]);
    let first = run(&["apps", "create", "--org", "acme", "--data-dir", d]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = run(&["apps", "create", "--org", "acme", "--data-dir", d]);
    let cid = second["client_id"].as_str().unwrap();

    let listed = run(&["apps", "list", "--org", "acme", "--data-dir", d]);
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["client_id"], first["client_id"]);
    assert_eq!(data[0]["admin"], true);
    assert!(!listed
        .to_string()
        .contains(first["client_secret"].as_str().unwrap()));

    let rotated = run(&[
        "apps",
        "rotate-secret",
        "--org",
        "acme",
        cid,
        "--data-dir",
        d,
    ]);
    assert_eq!(rotated["client_id"], cid);
    assert_ne!(rotated["client_secret"], second["client_secret"]);

    let revoked = run(&["apps", "revoke", "--org", "acme", cid, "--data-dir", d]);
    assert_eq!(revoked["revoked"], true);
    let listed = run(&["apps", "list", "--org", "acme", "--data-dir", d]);
    assert_eq!(listed["data"][1]["revoked"], true);
}
