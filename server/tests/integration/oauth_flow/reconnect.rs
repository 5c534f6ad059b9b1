//! Issue 25, re-authorization: a connector that goes `needs_reauth` gets a link (in its
//! `connector.status_changed` event and from the API) that opens the connect page in reconnect
//! mode for days, each time with a fresh single-use session, ends at the organization's
//! `connect_return_url` or the server's own page, and stops working once the connector is
//! active again, deleted or the link expired.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

use super::connect::{complete, location, page, path_of, session};
use super::harness::*;

const PUBLIC: &str = "https://connect.example";

/// A gmail connector made through a connect session; its id.
async fn connected(env: &Env, org: &Org) -> String {
    let connect = session(
        env,
        org,
        json!({"customer_name": "ada", "connector_types": ["gmail"], "redirect_url": ALLOWED}),
    )
    .await;
    let (_, h, _) = complete(env, &connect, "connector_type=gmail").await;
    query(&location(&h))["connector_id"].clone()
}

/// The connector's status events, oldest first (waits up to 10 s for `want` of them).
async fn status_events(env: &Env, org: &Org, id: &str, want: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = env
            .call(
                org,
                Method::GET,
                &format!(
                    "/api/v1/integrations/connectors/{id}/events?types=connector.status_changed"
                ),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let got = v["data"].as_array().unwrap().clone();
        if got.len() >= want {
            return got;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens a reconnect link (path and query) and follows it to the session's page.
async fn open(env: &Env, link: &str) -> String {
    let (s, h, body) = page(env, Method::GET, link, None).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let to = location(&h);
    assert!(to.contains("/connect/s/"), "{to}");
    path_of(&to)
}

#[actix_web::test]
async fn a_needs_reauth_event_carries_a_link_that_reconnects_the_same_connector_once_needed() {
    let logs = super::lifecycle::captured_logs();
    let env = env_with(|c| c.public_url = PUBLIC.into()).await;
    let org = env.org("acme").await;
    let id = connected(&env, &org).await;
    let changed = env
        .state
        .runtime
        .lifecycle()
        .mark_needs_reauth(&org.id, &id, "the grant was revoked")
        .await
        .unwrap();
    assert!(changed);
    let events = status_events(&env, &org, &id, 1).await;
    let event = &events[0];
    assert_eq!(event["status"], "needs_reauth", "{event}");
    let url = event["reconnect_url"].as_str().expect("a reconnect link");
    assert!(url.starts_with(&format!("{PUBLIC}/connect/r/")), "{url}");
    let expires = event["reconnect_expires_at"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(expires > now + 6 * 86_400, "days, not minutes: {event}");
    // Only the token's hash is stored.
    let token = url.rsplit('/').next().unwrap().to_string();
    let rows = sqlx::query("SELECT token_hash FROM reconnect_links")
        .fetch_all(env.state.store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].get("token_hash");
    assert!(!stored.contains(&token));

    // Each opening is a fresh single-use session in reconnect mode.
    let link = path_of(url);
    let first = open(&env, &link).await;
    let second = open(&env, &link).await;
    assert_ne!(first, second);
    let (s, _, body) = page(&env, Method::GET, &second, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("Reconnect your account"), "{body}");
    assert!(body.contains("value=\"gmail\"") && !body.contains("value=\"outlook\""));

    // No return URL set: the flow ends on the server's own page, with the same connector.
    let (s, h, _) = complete(&env, &second, "connector_type=gmail").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let back = location(&h);
    assert!(back.contains("/connect/finished?"), "{back}");
    assert_eq!(query(&back)["connector_id"], id);
    let (s, _, body) = page(&env, Method::GET, &path_of(&back), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("You can close this window"), "{body}");
    assert_eq!(env.connector_count(&org).await, 1);
    let c = connector_get(&env.state, &org, &id, "").await;
    assert_eq!(c["status"], "active");

    // Active again: the link (and the session opened earlier but never used) no longer
    // reconnects anything; the `active` event carries no link.
    let events = status_events(&env, &org, &id, 2).await;
    assert_eq!(events[1]["status"], "active", "{events:?}");
    assert!(events[1].get("reconnect_url").is_none(), "{events:?}");
    let (s, _, body) = page(&env, Method::GET, &link, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("not valid any more"), "{body}");

    // Neither the link's token nor a session's reached the logs, which did record the requests.
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.contains("/connect/r/{token}"), "requests are logged");
    let session_token = second.rsplit('/').next().unwrap();
    assert!(!text.contains(&token), "the link's token reached the logs");
    assert!(
        !text.contains(session_token),
        "a session token reached the logs"
    );
}

#[actix_web::test]
async fn the_api_gives_a_link_that_returns_to_the_organizations_connect_return_url() {
    let env = env_with(|_| {}).await;
    let org = env.org("acme").await;
    let settings = "/api/v1/organization/settings";
    // The return URL obeys the redirect allow-list.
    let (s, v) = env
        .call(
            &org,
            Method::PUT,
            settings,
            Some(json!({"connect_return_url": "https://evil.example/back"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["details"]["path"], "connect_return_url");
    let (s, v) = env
        .call(
            &org,
            Method::PUT,
            settings,
            Some(json!({"connect_return_url": format!("{ALLOWED}/reconnected")})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["connect_return_url"], format!("{ALLOWED}/reconnected"));

    let id = connected(&env, &org).await;
    let mint = format!("/api/v1/integrations/connectors/{id}/reconnect_link");
    // Only for a connector that needs it.
    let (s, v) = env.call(&org, Method::POST, &mint, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "conflict");
    let (s, _) = env
        .call(
            &org,
            Method::POST,
            "/api/v1/integrations/connectors/nope/reconnect_link",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    env.state
        .store
        .set_connector_status(&id, "needs_reauth", Some("revoked"))
        .await
        .unwrap();
    let (s, v) = env.call(&org, Method::POST, &mint, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["expires_in"], 7 * 86_400);
    let link = path_of(v["reconnect_url"].as_str().unwrap());
    let connect = open(&env, &link).await;
    let (_, h, _) = complete(&env, &connect, "connector_type=gmail").await;
    let back = location(&h);
    assert!(
        back.starts_with(&format!("{ALLOWED}/reconnected?connector_id=")),
        "{back}"
    );
    assert_eq!(query(&back)["connector_id"], id);

    // An expired link says so; a deleted connector's link is not valid.
    env.state
        .store
        .set_connector_status(&id, "needs_reauth", Some("revoked"))
        .await
        .unwrap();
    let (_, v) = env.call(&org, Method::POST, &mint, None).await;
    let expired = path_of(v["reconnect_url"].as_str().unwrap());
    let (_, v) = env.call(&org, Method::POST, &mint, None).await;
    let live = path_of(v["reconnect_url"].as_str().unwrap());
    env.state
        .store
        .expire_reconnect_links(&org.id)
        .await
        .unwrap();
    let (s, _, body) = page(&env, Method::GET, &expired, None).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(body.contains("expired"), "{body}");
    let (_, v) = env.call(&org, Method::POST, &mint, None).await;
    let fresh = path_of(v["reconnect_url"].as_str().unwrap());
    assert_ne!(fresh, live);
    delete_connector(&env.state, &org, &id).await;
    let (s, _, _) = page(&env, Method::GET, &fresh, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = page(
        &env,
        Method::GET,
        "/connect/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
