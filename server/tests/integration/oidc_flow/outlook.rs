//! Issue 10: Outlook through the authorization server's Microsoft-style routes
//! (`/common/oauth2/v2.0/authorize`, `/common/oauth2/v2.0/token`): refresh tokens only for
//! `offline_access`, a new refresh token on every refresh.

use actix_web::http::StatusCode;
use serde_json::json;

use super::{active, connector_id, env_or_skip, ALLOWED, CALLBACK, GRAPH_API, OUTLOOK_CLIENT};
use crate::common::auth_server::{grant_tokens, query, Browser};

/// Under the server's 5-minute margin: every execute refreshes first.
const SHORT: u64 = 120;

#[actix_web::test]
async fn outlook_through_microsoft_routes_rotates_the_refresh_token_on_every_refresh() {
    let env = env_or_skip!(SHORT);
    let org = env.org("acme").await;
    let at = &env.auth.microsoft;
    assert!(at.authorize_url.ends_with("/common/oauth2/v2.0/authorize"));
    assert!(at.token_url.ends_with("/common/oauth2/v2.0/token"));
    let consent = env
        .initiate(
            &org,
            json!({"customer_name": "ada", "connector_type": "outlook", "redirect_url": ALLOWED}),
        )
        .await;
    assert!(consent.starts_with(&at.authorize_url), "{consent}");
    let q = query(&consent);
    assert!(
        q["scope"].split(' ').any(|s| s == "offline_access"),
        "{consent}"
    );
    assert_eq!(q["code_challenge_method"], "S256");

    let mut browser = Browser::default();
    let back = browser
        .authorize(&consent, &[("login", "ada@example.com")], CALLBACK)
        .await;
    let consent_step = &browser.steps.last().unwrap()["prompt"];
    assert_eq!(consent_step["name"], "consent");
    assert_eq!(
        consent_step["details"]["missingOIDCScope"],
        json!(["offline_access"])
    );
    let (_, loc) = env.callback(&back).await;
    let id = connector_id(&loc);

    let first = env.stored(&org, &id).await;
    let access = first["access_token"].as_str().unwrap();
    let info = crate::common::auth_server::introspect(at, GRAPH_API.0, GRAPH_API.1, access).await;
    assert_eq!(
        (
            info["active"].clone(),
            info["aud"].clone(),
            info["sub"].clone()
        ),
        (
            json!(true),
            json!("https://graph.microsoft.com/"),
            json!("ada@example.com")
        ),
        "{info}"
    );
    let mut seen = vec![env.stored_refresh(&org, &id).await];
    for round in 1..=2 {
        let (s, v) = env.execute(&org, &id, "messages", "list").await;
        assert_eq!(s, StatusCode::OK, "round {round}: {v}");
        assert!(!v["result"].as_array().unwrap().is_empty(), "{v}");
        let now = env.stored_refresh(&org, &id).await;
        assert!(
            !seen.contains(&now),
            "round {round}: a new refresh token is stored"
        );
        assert!(
            active(at, GRAPH_API, &now).await,
            "round {round}: the stored one is live"
        );
        for old in &seen {
            assert!(
                !active(at, GRAPH_API, old).await,
                "round {round}: every older one is dead"
            );
        }
        seen.push(now);
    }
    // The access token in use is the last one issued, and the emulator serves it.
    let access = env.stored(&org, &id).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(active(at, GRAPH_API, &access).await);
    let me = reqwest::Client::new()
        .get(format!("{}/me", env.outlook.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
}

#[actix_web::test]
async fn microsoft_routes_give_a_refresh_token_only_for_offline_access() {
    let env = env_or_skip!(SHORT);
    let at = &env.auth.microsoft;
    let login = "ada@example.com";
    let without = grant_tokens(
        at,
        OUTLOOK_CLIENT,
        CALLBACK,
        "User.Read Mail.Read",
        &[],
        login,
    )
    .await;
    assert!(without["access_token"].is_string(), "{without}");
    assert!(without.get("refresh_token").is_none(), "{without}");
    assert_eq!(without["scope"], "User.Read Mail.Read");
    let with = grant_tokens(
        at,
        OUTLOOK_CLIENT,
        CALLBACK,
        "offline_access User.Read",
        &[],
        login,
    )
    .await;
    assert!(with["refresh_token"].is_string(), "{with}");
    // Google-style `access_type=offline` means nothing to Microsoft.
    let google_style = [("access_type", "offline"), ("prompt", "consent")];
    let other = grant_tokens(
        at,
        OUTLOOK_CLIENT,
        CALLBACK,
        "User.Read",
        &google_style,
        login,
    )
    .await;
    assert!(other.get("refresh_token").is_none(), "{other}");
}
