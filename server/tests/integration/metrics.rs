//! `/metrics`: Prometheus text that moves when requests are made.

use actix_web::http::StatusCode;
use actix_web::web;
use connector_core::Secret;
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
) -> (StatusCode, String) {
    let (status, bytes) = tenant_api::send(state, method.parse().unwrap(), path, auth, body).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of the sample whose line starts with `prefix` (name and labels), or 0.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

const EXEC: &str = r#"connectors_http_requests_total{method="POST",route="/api/v1/integrations/connectors/{id}/execute",status="200"}"#;
const PROVIDER_OK: &str = r#"connectors_provider_calls_total{connector_type="gmail",outcome="ok"}"#;
const LATENCY_COUNT: &str =
    r#"connectors_provider_call_duration_seconds_count{connector_type="gmail",outcome="ok"}"#;
const REFRESH_OK: &str = r#"connectors_token_refreshes_total{outcome="ok"}"#;
const ACTIVE: &str = r#"connectors_connectors{connector_type="gmail",status="active"}"#;

#[actix_web::test]
async fn metrics_move_when_requests_are_made() {
    let sb = sandbox_gmail::GmailSandbox::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.providers.entry("gmail").base_url = Some(sb.base_url());
    config.providers.entry("gmail").token_url = Some(sb.token_url());
    config.metrics_token = Some(Secret::new("metrics-secret".to_string()));
    let registry = Registry::builtin(&config.providers);
    let state = web::Data::new(AppState::with_registry(config, registry).await.unwrap());
    let scrape = || async {
        let (status, text) = call(
            &state,
            "GET",
            "/metrics",
            Some(("metrics-secret", "")),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        text
    };

    // Closed without the metrics token, and API tokens do not open it.
    assert_eq!(
        call(&state, "GET", "/metrics", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&state, "GET", "/metrics", Some(("wrong", "")), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let org = state.store.create_org("acme").await.unwrap().id;
    let app = server::auth::create_application(&state.store, &org)
        .await
        .unwrap();
    let (_, tok) = call(
        &state,
        "POST",
        "/api/v1/account/applications/token",
        None,
        Some(json!({"client_id": app.client_id, "client_secret": app.client_secret.expose()})),
    )
    .await;
    let tok: Value = serde_json::from_str(&tok).unwrap();
    let token = tok["access_token"].as_str().unwrap().to_string();
    let auth = Some((token.as_str(), org.as_str()));
    let rt = sb.issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let (status, created) = call(
        &state,
        "POST",
        "/api/v1/integrations/connectors",
        auth,
        Some(json!({"customer_name": "alice", "connector_type": "gmail",
            "credentials": {"refresh_token": rt, "client_id": "cid", "client_secret": "cs"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let before = scrape().await;
    assert!(before.contains("# TYPE connectors_http_request_duration_seconds histogram"));
    assert_eq!(sample(&before, ACTIVE), 1.0, "{before}");

    let path = format!("/api/v1/integrations/connectors/{id}/execute");
    let list = json!({"entity": "messages", "action": "list", "params": {"max_results": 2}});
    for _ in 0..2 {
        let (status, body) = call(&state, "POST", &path, auth, Some(list.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = call(
        &state,
        "POST",
        &path,
        auth,
        Some(json!({"entity": "messages", "action": "get", "params": {"message_id": "bad id"}})),
    )
    .await;
    assert!(status.is_client_error() || status.is_server_error());

    let after = scrape().await;
    assert_eq!(sample(&after, EXEC) - sample(&before, EXEC), 2.0, "{after}");
    assert_eq!(
        sample(&after, PROVIDER_OK) - sample(&before, PROVIDER_OK),
        2.0
    );
    assert_eq!(
        sample(&after, LATENCY_COUNT) - sample(&before, LATENCY_COUNT),
        2.0
    );
    let failed: f64 = after
        .lines()
        .filter(|l| {
            l.starts_with("connectors_provider_calls_total{connector_type=\"gmail\"")
                && !l.contains("outcome=\"ok\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(
        failed >= 1.0,
        "the failed call is counted by its error code: {after}"
    );
    assert!(
        sample(&after, REFRESH_OK) >= 1.0,
        "the refresh token was used: {after}"
    );
    // Route patterns, never concrete ids.
    assert!(!after.contains(&id));
}

#[actix_web::test]
async fn metrics_are_off_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_data_dir(dir.path());
    let registry = Registry::builtin(&config.providers);
    let state = web::Data::new(AppState::with_registry(config, registry).await.unwrap());
    assert_eq!(
        call(&state, "GET", "/metrics", None, None).await.0,
        StatusCode::NOT_FOUND
    );
}
