//! The Google-style flow at oidc-provider: refresh tokens from `access_type=offline`, the Gmail
//! API as the resource server.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use super::{active, connector_id, env_or_skip, Org, ALLOWED, CALLBACK, GMAIL_API, GMAIL_CLIENT};
use crate::common::auth_server::{grant_tokens, post_form, query, Browser};
use crate::common::tenant_api::{connector_get, delete_connector};

const LONG: u64 = 3600;
/// Under the server's 5-minute margin: every execute refreshes first.
const SHORT: u64 = 120;

const ADA: &[(&str, &str)] = &[("login", "ada@example.com")];

fn gmail(customer: &str) -> serde_json::Value {
    json!({"customer_name": customer, "connector_type": "gmail", "redirect_url": ALLOWED})
}

#[actix_web::test]
async fn gmail_consent_at_the_authorization_server_ends_in_a_connector_that_executes() {
    let env = env_or_skip!(LONG);
    let org = env.org("acme").await;
    let consent = env.initiate(&org, gmail("ada")).await;
    assert!(
        consent.starts_with(&env.auth.google.authorize_url),
        "{consent}"
    );
    let q = query(&consent);
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(
        !q["scope"].split(' ').any(|s| s == "offline_access"),
        "Google style: no offline_access scope"
    );

    let mut browser = Browser::default();
    let back = browser.authorize(&consent, ADA, CALLBACK).await;
    // The real server asked for a login, then for consent to exactly the Gmail scopes.
    let prompts: Vec<_> = browser
        .steps
        .iter()
        .map(|s| s["prompt"]["name"].clone())
        .collect();
    assert_eq!(prompts, [json!("login"), json!("consent")]);
    let asked = &browser.steps[1]["prompt"]["details"]["missingResourceScopes"]
        ["https://gmail.googleapis.com/"];
    assert_eq!(
        asked,
        &json!([
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/gmail.settings.basic",
            "https://www.googleapis.com/auth/calendar"
        ])
    );
    assert!(query(&back).contains_key("code"), "{back}");

    let (_, loc) = env.callback(&back).await;
    assert!(
        loc.starts_with("https://app.example/oauth?connector_id="),
        "{loc}"
    );
    let id = connector_id(&loc);

    // The stored tokens are the authorization server's: it vouches for them, for the Gmail API.
    let creds = env.stored(&org, &id).await;
    let access = creds["access_token"].as_str().unwrap();
    let info =
        crate::common::auth_server::introspect(&env.auth.google, GMAIL_API.0, GMAIL_API.1, access)
            .await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], "ada@example.com");
    assert_eq!(info["aud"], "https://gmail.googleapis.com/");
    assert_eq!(info["client_id"], GMAIL_CLIENT.0);
    let refresh = creds["refresh_token"]
        .as_str()
        .expect("access_type=offline gave a refresh token");
    assert!(active(&env.auth.google, GMAIL_API, refresh).await);

    // Execute runs against the emulator, which accepts the token only through introspection.
    let (s, v) = env
        .call(
            &org,
            Method::POST,
            &format!("/api/v1/integrations/connectors/{id}/execute"),
            Some(json!({"entity": "messages", "action": "list", "params": {"max_results": 2}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v["result"].as_array().unwrap().is_empty(), "{v}");
    let st = connector_get(&env.state, &org, &id, "/status").await;
    assert_eq!(st["status"], "active");
    let acct = connector_get(&env.state, &org, &id, "/account").await;
    assert_eq!(acct["account"], "ada@example.com");

    // A token the authorization server never issued gets nowhere at the emulator.
    let forged = reqwest::Client::new()
        .get(format!(
            "{}/gmail/v1/users/me/profile",
            env.gmail.base_url()
        ))
        .bearer_auth("not-issued-by-the-authorization-server")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
}

#[actix_web::test]
async fn the_authorization_server_requires_pkce() {
    let env = env_or_skip!(LONG);
    let org = env.org("acme").await;

    // An authorization request without a code challenge is refused at the server ...
    let consent = env.initiate(&org, gmail("ada")).await;
    let mut url = url::Url::parse(&consent).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let back = Browser::default()
        .authorize(url.as_str(), ADA, CALLBACK)
        .await;
    let q = query(&back);
    assert_eq!(q["error"], "invalid_request", "{back}");
    assert!(q["error_description"].contains("PKCE"), "{back}");
    // ... and our callback passes the refusal on to the application.
    let (_, loc) = env.callback(&back).await;
    assert_eq!(query(&loc)["error"], "invalid_request", "{loc}");
    assert_eq!(env.connector_count(&org).await, 0);

    // A code is not redeemed without the verifier, nor with a wrong one.
    let consent = env.initiate(&org, gmail("ada")).await;
    let back = Browser::default().authorize(&consent, ADA, CALLBACK).await;
    let code = query(&back)["code"].clone();
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", GMAIL_CLIENT.0),
        ("client_secret", GMAIL_CLIENT.1),
    ];
    let (s, v) = post_form(&env.auth.google.token_url, &base).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    let bad_verifier = "x".repeat(43);
    let wrong = [&base[..], &[("code_verifier", bad_verifier.as_str())]].concat();
    let (s, v) = post_form(&env.auth.google.token_url, &wrong).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    assert_eq!(env.connector_count(&org).await, 0);
    // The server's own verifier redeems the same code.
    let (_, loc) = env.callback(&back).await;
    connector_id(&loc);
    assert_eq!(env.connector_count(&org).await, 1);
}

#[actix_web::test]
async fn refresh_rotates_and_the_newest_refresh_token_is_stored_and_reuse_is_caught() {
    let env = env_or_skip!(SHORT);
    let org = env.org("acme").await;
    let id = connector_id(&env.flow(&org, gmail("ada"), ADA).await);
    let at = &env.auth.google;
    let mut seen = vec![env.stored_refresh(&org, &id).await];
    for round in 1..=2 {
        let (s, v) = env.execute(&org, &id, "profile", "get").await;
        assert_eq!(s, StatusCode::OK, "round {round}: {v}");
        assert_eq!(v["result"]["email_address"], "ada@example.com");
        let now = env.stored_refresh(&org, &id).await;
        assert!(
            !seen.contains(&now),
            "round {round}: the refresh token was rotated and stored"
        );
        assert!(
            active(at, GMAIL_API, &now).await,
            "round {round}: the stored one is live"
        );
        for old in &seen {
            assert!(
                !active(at, GMAIL_API, old).await,
                "round {round}: rotated ones are dead"
            );
        }
        seen.push(now);
    }

    // Replaying a rotated refresh token: refused, and the whole grant is revoked.
    let (s, v) = post_form(
        &at.token_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &seen[1]),
            ("client_id", GMAIL_CLIENT.0),
            ("client_secret", GMAIL_CLIENT.1),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    assert!(
        !active(at, GMAIL_API, &seen[2]).await,
        "reuse detection revoked the grant"
    );
    // The server finds out at its next refresh.
    let (s, v) = env.execute(&org, &id, "profile", "get").await;
    assert_eq!(s.as_u16(), 424, "{v}");
    assert_eq!(v["error"]["code"], "needs_reauth");
    let st = connector_get(&env.state, &org, &id, "/status").await;
    assert_eq!(st["status"], "needs_reauth");
}

#[actix_web::test]
async fn a_user_who_grants_fewer_scopes_gets_no_connector() {
    let env = env_or_skip!(LONG);
    let org = env.org("acme").await;
    let answer = [
        ("login", "ada@example.com"),
        ("grant_scopes", "https://mail.google.com/"),
    ];
    let loc = env.flow(&org, gmail("ada"), &answer).await;
    let q = query(&loc);
    assert!(loc.starts_with(ALLOWED), "{loc}");
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("insufficient_scopes"),
        "{loc}"
    );
    assert!(
        q["error_description"].contains("gmail.settings.basic"),
        "{loc}"
    );
    assert!(!q.contains_key("connector_id"));
    assert_eq!(env.connector_count(&org).await, 0);
}

#[actix_web::test]
async fn access_denied_at_consent_comes_back_as_the_error() {
    let env = env_or_skip!(LONG);
    let org = env.org("acme").await;
    let answer = [("login", "ada@example.com"), ("deny", "1")];
    let consent = env.initiate(&org, gmail("ada")).await;
    let back = Browser::default()
        .authorize(&consent, &answer, CALLBACK)
        .await;
    assert_eq!(query(&back)["error"], "access_denied", "{back}");
    let (_, loc) = env.callback(&back).await;
    assert!(loc.starts_with(ALLOWED), "{loc}");
    assert_eq!(query(&loc)["error"], "access_denied", "{loc}");
    assert_eq!(env.connector_count(&org).await, 0);
}

#[actix_web::test]
async fn deleting_a_connector_revokes_its_grant_at_the_authorization_server() {
    let env = env_or_skip!(LONG);
    let org: Org = env.org("acme").await;
    let id = connector_id(&env.flow(&org, gmail("ada"), ADA).await);
    let creds = env.stored(&org, &id).await;
    let access = creds["access_token"].as_str().unwrap().to_string();
    let refresh = creds["refresh_token"].as_str().unwrap().to_string();
    let at = &env.auth.google;
    assert!(active(at, GMAIL_API, &access).await && active(at, GMAIL_API, &refresh).await);

    delete_connector(&env.state, &org, &id).await;
    assert!(
        !active(at, GMAIL_API, &refresh).await,
        "the refresh token is revoked"
    );
    assert!(
        !active(at, GMAIL_API, &access).await,
        "and with its grant the access token"
    );
    let (s, v) = post_form(
        &at.token_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", GMAIL_CLIENT.0),
            ("client_secret", GMAIL_CLIENT.1),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
}

#[actix_web::test]
async fn google_style_gives_a_refresh_token_only_for_access_type_offline() {
    let env = env_or_skip!(LONG);
    let at = &env.auth.google;
    let scope = "https://mail.google.com/";
    let login = "ada@example.com";
    let online = grant_tokens(
        at,
        GMAIL_CLIENT,
        CALLBACK,
        scope,
        &[("prompt", "consent")],
        login,
    )
    .await;
    assert!(online["access_token"].is_string(), "{online}");
    assert!(online.get("refresh_token").is_none(), "{online}");
    let offline = [("access_type", "offline"), ("prompt", "consent")];
    let tokens = grant_tokens(at, GMAIL_CLIENT, CALLBACK, scope, &offline, login).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    assert_eq!(tokens["scope"], scope);
}

#[actix_web::test]
async fn reauthorization_at_the_authorization_server_keeps_the_id_and_settings() {
    let env = env_or_skip!(LONG);
    let org = env.org("acme").await;
    let body = json!({"customer_name": "ada", "connector_type": "gmail", "redirect_url": ALLOWED,
        "name": "Ada's mail", "replication_config": {"include_spam_and_trash": true}});
    let id = connector_id(&env.flow(&org, body.clone(), ADA).await);
    let first = env.stored_refresh(&org, &id).await;
    let path = format!("/api/v1/integrations/connectors/{id}");
    let (s, _) = env
        .call(&org, Method::PATCH, &path, Some(json!({"name": "Renamed"})))
        .await;
    assert_eq!(s, StatusCode::OK);

    let again = connector_id(&env.flow(&org, body, ADA).await);
    assert_eq!(
        again, id,
        "the same account for the same customer: the same connector"
    );
    let second = env.stored_refresh(&org, &id).await;
    assert_ne!(second, first, "the new grant's tokens are stored");
    assert!(active(&env.auth.google, GMAIL_API, &second).await);
    assert_eq!(env.connector_count(&org).await, 1);
    let (_, c) = env.call(&org, Method::GET, &path, None).await;
    assert_eq!(
        (c["name"].as_str(), c["status"].as_str()),
        (Some("Renamed"), Some("active"))
    );
    assert_eq!(c["replication_config"]["include_spam_and_trash"], true);
    let (s, v) = env.execute(&org, &id, "profile", "get").await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // A different account for the same customer is a connector of its own.
    let grace = [("login", "grace@example.com")];
    let other = connector_id(&env.flow(&org, gmail("ada"), &grace).await);
    assert_ne!(other, id);
    let (_, acct) = env
        .call(
            &org,
            Method::GET,
            &format!("/api/v1/integrations/connectors/{other}/account"),
            None,
        )
        .await;
    assert_eq!(acct["account"], "grace@example.com");
}
