//! Issue 7: the OAuth flow, driven as a browser would, against the emulators' own consent and
//! token routes (PKCE S256 checked there).

mod calendar_scopes;
mod connect;
mod harness;
mod lifecycle;
mod reconnect;
mod rejections;

use actix_web::http::{Method, StatusCode};
use harness::*;
use serde_json::json;

/// initiate -> consent -> callback; returns the redirect back to the application.
pub async fn flow(env: &Env, org: &Org, body: serde_json::Value) -> String {
    let (s, v) = env.initiate(org, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    let (s, loc, body) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND, "{body}");
    loc
}

#[actix_web::test]
async fn gmail_consent_ends_in_a_connector_that_executes() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (s, v) = env
        .initiate(&org, json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": "https://app.example/oauth/done"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let url = v["consent_url"].as_str().unwrap();
    assert!(url.starts_with(&env.gmail.authorize_url()), "{url}");
    let q = query(url);
    for (k, want) in [
        ("response_type", "code"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
        ("code_challenge_method", "S256"),
        ("client_id", "platform-client"),
        ("redirect_uri", CALLBACK),
        (
            "scope",
            "https://mail.google.com/ https://www.googleapis.com/auth/gmail.settings.basic https://www.googleapis.com/auth/calendar",
        ),
    ] {
        assert_eq!(q.get(k).map(String::as_str), Some(want), "{k}");
    }
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() > 40);
    let back = consent(url).await;
    let (s, loc, _) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND);
    let id = query(&loc)["connector_id"].clone();
    assert!(
        loc.starts_with("https://app.example/oauth/done?connector_id="),
        "{loc}"
    );

    let path = format!("/api/v1/integrations/connectors/{id}/execute");
    let (s, v) = env
        .call(
            &org,
            Method::POST,
            &path,
            Some(json!({"entity": "messages", "action": "list", "params": {"max_results": 2}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v["result"].as_array().unwrap().is_empty());
    let acct = connector_get(&env.state, &org, &id, "/account").await;
    assert_eq!(acct["account"], "ada@example.com");
    assert!(
        acct["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "ada@example.com"),
        "{acct}"
    );
    let st = connector_get(&env.state, &org, &id, "/status").await;
    assert_eq!(st["status"], "active");
    assert!(st["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "https://mail.google.com/"));
}

#[actix_web::test]
async fn outlook_consent_asks_offline_access_with_pkce_and_executes() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (s, v) = env
        .initiate(&org, json!({"customer_name": "ada", "connector_type": "outlook", "redirect_url": "https://app.example/oauth", "tenant": "organizations"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let url = v["consent_url"].as_str().unwrap();
    let q = query(url);
    assert!(q["scope"].split(' ').any(|s| s == "offline_access"));
    assert_eq!(q["code_challenge_method"], "S256");
    let back = consent(url).await;
    let (s, loc, body) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND, "{body}");
    let id = query(&loc)
        .get("connector_id")
        .cloned()
        .unwrap_or_else(|| panic!("{loc}"));
    let path = format!("/api/v1/integrations/connectors/{id}/execute");
    let (s, v) = env
        .call(
            &org,
            Method::POST,
            &path,
            Some(json!({"entity": "messages", "action": "list", "params": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[actix_web::test]
async fn reauthorization_keeps_the_id_and_settings() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let body = json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED,
        "name": "Ada's mail", "replication_config": {"include_spam_and_trash": true}});
    let loc = flow(&env, &org, body.clone()).await;
    let id = query(&loc)["connector_id"].clone();
    let cpath = format!("/api/v1/integrations/connectors/{id}");
    env.call(
        &org,
        Method::PATCH,
        &cpath,
        Some(json!({"name": "Renamed"})),
    )
    .await;
    env.state
        .store
        .set_connector_status(&id, "needs_reauth", Some("revoked"))
        .await
        .unwrap();

    // The same account for the same customer again: the same connector.
    let again = flow(&env, &org, body).await;
    assert_eq!(query(&again)["connector_id"], id);
    // And through the reauthorize endpoint.
    env.state
        .store
        .set_connector_status(&id, "needs_reauth", Some("revoked"))
        .await
        .unwrap();
    let (s, v) = env
        .call(
            &org,
            Method::POST,
            &format!("{cpath}/reauthorize"),
            Some(json!({"redirect_url": ALLOWED})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    let (_, loc, _) = env.callback(&back).await;
    assert_eq!(query(&loc)["connector_id"], id);

    assert_eq!(env.connector_count(&org).await, 1);
    let (_, c) = env.call(&org, Method::GET, &cpath, None).await;
    assert_eq!(c["name"], "Renamed");
    assert_eq!(c["replication_config"]["include_spam_and_trash"], true);
    assert_eq!(c["status"], "active");
}

#[actix_web::test]
async fn bring_your_own_app_is_used_and_its_new_secret_reaches_its_connectors() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (s, app) = env
        .call(&org, Method::POST, "/api/v1/oauth-apps", Some(json!({"provider": "gmail", "client_id": "byo-client", "client_secret": "byo-secret-1"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    assert!(!app.to_string().contains("byo-secret-1"));
    let app_id = app["id"].as_str().unwrap().to_string();
    let (s, v) = env
        .initiate(
            &org,
            json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let url = v["consent_url"].as_str().unwrap();
    assert_eq!(query(url)["client_id"], "byo-client");
    let back = consent(url).await;
    let (_, loc, _) = env.callback(&back).await;
    let id = query(&loc)["connector_id"].clone();

    let (s, _) = env
        .call(
            &org,
            Method::PATCH,
            &format!("/api/v1/oauth-apps/{app_id}"),
            Some(json!({"client_secret": "byo-secret-2"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let row = env
        .state
        .store
        .get_connector(&org.id, &id)
        .await
        .unwrap()
        .unwrap();
    let plain = env
        .state
        .vault
        .decrypt(&org.id, &row.credentials)
        .await
        .unwrap();
    let text = String::from_utf8(plain).unwrap();
    assert!(text.contains("byo-secret-2") && !text.contains("byo-secret-1"));
    let (_, list) = env
        .call(&org, Method::GET, "/api/v1/oauth-apps", None)
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("byo-secret"));
    let (s, _) = env
        .call(
            &org,
            Method::DELETE,
            &format!("/api/v1/oauth-apps/{app_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn organization_settings_keep_the_webhook_secret_encrypted_and_hidden() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (s, v) = env
        .call(
            &org,
            Method::PUT,
            "/api/v1/organization/settings",
            Some(json!({
            "webhook_url": "https://hooks.example/in", "webhook_secret": "whsec-123",
            "raw_credential_apps": ["app_x"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["webhook_secret_set"], true);
    assert_eq!(v["redirect_allowlist"][0], ALLOWED);
    assert!(!v.to_string().contains("whsec-123"));
    let row = env.state.store.org_settings(&org.id).await.unwrap();
    let blob = row.webhook_secret.unwrap();
    assert!(!String::from_utf8_lossy(&blob).contains("whsec-123"));
    assert_eq!(
        env.state.vault.decrypt(&org.id, &blob).await.unwrap(),
        b"whsec-123"
    );
    let (s, _) = env
        .call(
            &org,
            Method::PUT,
            "/api/v1/organization/settings",
            Some(json!({"redirect_allowlist": ["https://a@b.example/x"]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
