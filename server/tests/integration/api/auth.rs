//! Application tokens and the bearer + X-Organization-Id check.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::common::harness::*;

const TOKEN: &str = "/api/v1/account/applications/token";

#[actix_web::test]
async fn token_endpoint_issues_an_hour_long_bearer_token() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let (status, body) = h
        .send(
            Req::new(Method::POST, TOKEN)
                .json(json!({"client_id": t.client_id, "client_secret": t.client_secret})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].as_str().unwrap().len() > 40);
    // The token works.
    let (status, body) = h.get(CONNECTORS, &t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"data": []}));
}

#[actix_web::test]
async fn wrong_secret_and_unknown_client_are_401() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    for (id, secret) in [
        (t.client_id.as_str(), "cs_wrong"),
        ("app_nobody", t.client_secret.as_str()),
    ] {
        let got = h
            .send(
                Req::new(Method::POST, TOKEN)
                    .json(json!({"client_id": id, "client_secret": secret})),
            )
            .await;
        assert_error(&got, 401, "unauthenticated");
    }
}

#[actix_web::test]
async fn token_request_errors_name_the_field() {
    let h = harness().await;
    let got = h
        .send(
            Req::new(Method::POST, TOKEN)
                .json(json!({"client_id": "a", "client_secret": "b", "scope": "x"})),
        )
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["field"], "scope");
    let got = h
        .send(Req::new(Method::POST, TOKEN).json(json!({"client_id": "a"})))
        .await;
    assert_error(&got, 400, "invalid_params");
    assert_eq!(got.1["error"]["details"]["field"], "client_secret");
    let got = h
        .send(Req::new(Method::POST, TOKEN).raw("{\"client_id\": "))
        .await;
    assert_error(&got, 400, "invalid_params");
    assert!(got.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
}

#[actix_web::test]
async fn protected_routes_need_a_valid_unexpired_token_and_matching_org() {
    let h = harness().await;
    let t = h.tenant("acme").await;
    let other = h.tenant("globex").await;
    let routes = [
        (Method::GET, CONNECTORS.to_string()),
        (Method::POST, CONNECTORS.to_string()),
        (Method::GET, format!("{CONNECTORS}/x")),
        (Method::PATCH, format!("{CONNECTORS}/x")),
        (Method::DELETE, format!("{CONNECTORS}/x")),
        (Method::GET, format!("{CONNECTORS}/x/status")),
        (Method::GET, format!("{CONNECTORS}/x/tools")),
        (Method::POST, format!("{CONNECTORS}/x/execute")),
        (Method::GET, "/api/v1/connector-types".to_string()),
    ];
    for (method, path) in &routes {
        // No token.
        let got = h
            .send(Req::new(method.clone(), path.clone()).json(json!({})))
            .await;
        assert_error(&got, 401, "unauthenticated");
        // A token that was never issued.
        let mut r = Req::new(method.clone(), path.clone()).json(json!({}));
        r.token = Some("cat_forged");
        r.org = Some(&t.org);
        assert_error(&h.send(r).await, 401, "unauthenticated");
        // No organization header.
        let mut r = Req::new(method.clone(), path.clone()).json(json!({}));
        r.token = Some(&t.token);
        assert_error(&h.send(r).await, 401, "unauthenticated");
        // Another organization's id.
        let mut r = Req::new(method.clone(), path.clone()).json(json!({}));
        r.token = Some(&t.token);
        r.org = Some(&other.org);
        assert_error(&h.send(r).await, 403, "permission_denied");
    }
    // Expired: move the token's expiry into the past.
    h.state
        .store
        .set_token_expiry(
            &server::auth::hash_token(&t.token),
            server::store::now() - 1,
        )
        .await
        .unwrap();
    // Verified tokens are cached for a second; an edit behind the API's back must say so.
    h.state.services.applications.forget_cached_tokens();
    for (method, path) in &routes {
        let got = h
            .send(
                Req::new(method.clone(), path.clone())
                    .by(&t)
                    .json(json!({})),
            )
            .await;
        assert_error(&got, 401, "unauthenticated");
        assert!(got.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"));
    }
}

#[actix_web::test]
async fn public_routes_need_no_token_and_unknown_routes_are_json_404() {
    let h = harness().await;
    let (status, body) = h.send(Req::new(Method::GET, "/healthz")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = h.send(Req::new(Method::GET, "/readyz")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    assert_error(
        &h.send(Req::new(Method::GET, "/nope")).await,
        404,
        "not_found",
    );
}

#[actix_web::test]
async fn token_lifetime_follows_config() {
    let h = harness_with(|c| c.token_ttl_secs = 900).await;
    let t = h.tenant("acme").await;
    let (_, body) = h
        .send(
            Req::new(Method::POST, TOKEN)
                .json(json!({"client_id": t.client_id, "client_secret": t.client_secret})),
        )
        .await;
    assert_eq!(body["expires_in"], 900);
}
