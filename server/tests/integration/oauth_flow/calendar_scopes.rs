//! Issue 24: calendars are entities of the gmail type, so one consent asks for mail and
//! calendar; a connector whose grant has mail only is told which scope is missing, and
//! reauthorizing adds it under the same connector id.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use super::harness::*;

#[actix_web::test]
async fn a_mail_only_connector_is_told_the_calendar_scope_and_reauthorizing_adds_it_keeping_its_id()
{
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let mail_only = env.gmail.issue_refresh_token(
        "ada@example.com",
        &[
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/gmail.settings.basic",
        ],
    );
    let (s, c) = env
        .call(
            &org,
            Method::POST,
            "/api/v1/integrations/connectors",
            Some(json!({"customer_name": "ada", "connector_type": "gmail", "credentials": {
                "refresh_token": mail_only, "client_id": "platform-client", "client_secret": "platform-secret"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let exec = format!("/api/v1/integrations/connectors/{id}/execute");
    let events = json!({"entity": "events", "action": "list", "params": {}});

    let (s, e) = env
        .call(&org, Method::POST, &exec, Some(events.clone()))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(e["error"]["code"], "permission_denied");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("https://www.googleapis.com/auth/calendar"),
        "{message}"
    );
    assert!(message.contains("authorize again"), "{message}");
    let (s, m) = env
        .call(
            &org,
            Method::POST,
            &exec,
            Some(json!({"entity": "messages", "action": "list", "params": {"max_results": 1}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "mail still works: {m}");

    let (s, v) = env
        .call(
            &org,
            Method::POST,
            &format!("/api/v1/integrations/connectors/{id}/reauthorize"),
            Some(json!({"redirect_url": ALLOWED})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let url = v["consent_url"].as_str().unwrap();
    assert!(
        query(url)["scope"].contains("https://www.googleapis.com/auth/calendar"),
        "{url}"
    );
    let back = consent(url).await;
    let (_, loc, _) = env.callback(&back).await;
    assert_eq!(query(&loc)["connector_id"], id, "{loc}");
    assert_eq!(env.connector_count(&org).await, 1);

    let (s, listed) = env.call(&org, Method::POST, &exec, Some(events)).await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    assert!(listed["result"].is_array(), "{listed}");
}
