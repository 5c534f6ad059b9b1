//! Every refusal leaves no connector behind.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use super::flow;
use super::harness::*;

fn gmail(redirect: &str) -> serde_json::Value {
    json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": redirect})
}

#[actix_web::test]
async fn redirect_urls_off_the_allow_list_are_refused_before_any_redirect() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    for bad in [
        "https://evil.example/oauth",
        "https://app.example@evil.example/oauth",
        "http://app.example/oauth",
        "https://app.example:8443/oauth",
        "https://app.example/other",
        "https://app.example/oauthx",
    ] {
        let (s, v) = env.initiate(&org, gmail(bad)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(v["error"]["details"]["path"], "redirect_url");
        assert!(v.get("consent_url").is_none());
    }
    assert_eq!(env.connector_count(&org).await, 0);
}

#[actix_web::test]
async fn a_state_works_once() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (_, v) = env.initiate(&org, gmail(ALLOWED)).await;
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    let (s, _, _) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND);
    let (s, loc, body) = env.callback(&back).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(loc.is_empty() && body.contains("Authorization failed"));
    assert_eq!(env.connector_count(&org).await, 1);
}

#[actix_web::test]
async fn expired_tampered_and_foreign_states_create_nothing() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let other = env.org("other").await;

    // Expired: redirect back with invalid_state.
    let (_, v) = env.initiate(&org, gmail(ALLOWED)).await;
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    env.state.store.expire_oauth_states(&org.id).await.unwrap();
    let (s, loc, _) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND);
    assert_eq!(query(&loc)["error"], "invalid_state");
    assert!(!loc.contains("connector_id"));

    // Tampered and moved to another organization: no trustworthy redirect, a plain page.
    let (_, v) = env.initiate(&org, gmail(ALLOWED)).await;
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    let st = query(&format!("http://x{back}"))["state"].clone();
    let mut tampered = st.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let foreign = st.replacen(&org.id, &other.id, 1);
    for bad in [tampered, foreign, String::new()] {
        let (s, loc, _) = env.callback(&set_param(&back, "state", &bad)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(loc.is_empty());
    }
    assert_eq!(env.connector_count(&org).await, 0);
    assert_eq!(env.connector_count(&other).await, 0);
}

#[actix_web::test]
async fn an_intercepted_code_is_useless_without_the_pkce_verifier() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (_, v) = env.initiate(&org, gmail(ALLOWED)).await;
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    let code = query(&format!("http://x{back}"))["code"].clone();
    let http = reqwest::Client::new();
    for verifier in [None, Some("wrong-verifier-wrong-verifier-wrong-verifier-0")] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", "platform-client"),
            ("client_secret", "platform-secret"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let r = http
            .post(env.gmail.token_url())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
    // The code is spent: our callback's exchange fails and the application hears so.
    let (s, loc, _) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND);
    assert_eq!(query(&loc)["error"], "invalid_grant");
    assert_eq!(env.connector_count(&org).await, 0);
}

#[actix_web::test]
async fn access_denied_at_the_provider_goes_back_to_the_application() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    env.gmail.set_consent_denied(true);
    let (_, v) = env.initiate(&org, gmail(ALLOWED)).await;
    let back = consent(v["consent_url"].as_str().unwrap()).await;
    let (s, loc, _) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND);
    let q = query(&loc);
    assert!(loc.starts_with(ALLOWED));
    assert_eq!(q["error"], "access_denied");
    assert!(q.contains_key("error_description"));
    assert_eq!(env.connector_count(&org).await, 0);
}

#[actix_web::test]
async fn a_user_who_grants_fewer_scopes_gets_insufficient_scopes() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let (_, v) = env.initiate(&org, gmail(ALLOWED)).await;
    // The user unticks the full-mail permission on the consent screen.
    let url = set_param(
        v["consent_url"].as_str().unwrap(),
        "scope",
        "https://www.googleapis.com/auth/gmail.settings.basic",
    );
    let back = consent(&url).await;
    let (s, loc, _) = env.callback(&back).await;
    assert_eq!(s, StatusCode::FOUND);
    let q = query(&loc);
    assert_eq!(q["error"], "insufficient_scopes");
    assert!(q["error_description"].contains("https://mail.google.com/"));
    assert_eq!(env.connector_count(&org).await, 0);
}

#[actix_web::test]
async fn reauthorize_of_another_organizations_connector_is_not_found() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let other = env.org("other").await;
    let loc = flow(&env, &org, gmail(ALLOWED)).await;
    let id = query(&loc)["connector_id"].clone();
    let (s, _) = env
        .call(
            &other,
            Method::POST,
            &format!("/api/v1/integrations/connectors/{id}/reauthorize"),
            Some(json!({"redirect_url": ALLOWED})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
