//! The token endpoint: argon2 cost, a cap on checks at once, rate limits, the same work for
//! unknown and known client ids.

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use argon2::password_hash::{PasswordHasher, SaltString};
use serde_json::{json, Value};
use server::limits::Rate;

use crate::common::harness::*;

const TOKEN: &str = "/api/v1/account/applications/token";

fn token_req(client_id: &str, secret: &str) -> Req<'static> {
    Req::new(Method::POST, TOKEN).json(json!({"client_id": client_id, "client_secret": secret}))
}

#[test]
fn new_secrets_are_hashed_with_the_documented_argon2_parameters() {
    let hash = server::auth::hash_secret("cs_x").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=4096,t=3,p=1$"), "{hash}");
    assert!(server::auth::is_current(&hash));
    assert!(server::auth::verify_secret("cs_x", &hash));
    assert!(!server::auth::verify_secret("cs_y", &hash));
}

#[actix_web::test]
async fn an_old_hash_still_verifies_and_is_replaced_by_a_current_one() {
    let h = harness().await;
    let store = &h.state.store;
    let org = store.create_org("old").await.unwrap();
    // What earlier versions stored: argon2's defaults (19 MiB, 2 passes).
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let old = argon2::Argon2::default()
        .hash_password(b"cs_old_secret", &salt)
        .unwrap()
        .to_string();
    assert!(!server::auth::is_current(&old));
    store
        .create_application(&org.id, "app_old", &old)
        .await
        .unwrap();
    let (status, body) = h.send(token_req("app_old", "cs_old_secret")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = store.find_application("app_old").await.unwrap().unwrap();
    assert!(
        server::auth::is_current(&stored.secret_hash),
        "{}",
        stored.secret_hash
    );
    let (status, _) = h.send(token_req("app_old", "cs_old_secret")).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn failed_requests_per_client_id_are_limited_with_429_and_retry_after() {
    let h = harness_with(|c| c.limits.token_failures_per_client = Rate::new(3, 0.1)).await;
    let t = h.tenant("acme").await;
    for _ in 0..3 {
        let got = h.send(token_req(&t.client_id, "cs_wrong")).await;
        assert_error(&got, 401, "unauthenticated");
    }
    let got = h.send(token_req(&t.client_id, "cs_wrong")).await;
    assert_error(&got, 429, "rate_limited");
    let retry = got.1["error"]["details"]["retry_after"].as_u64().unwrap();
    assert!((1..=10).contains(&retry), "{}", got.1);
    // Another client id is not affected; successful requests do not count.
    let other = h.tenant("globex").await;
    for _ in 0..5 {
        let (status, _) = h
            .send(token_req(&other.client_id, &other.client_secret))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[actix_web::test]
async fn requests_per_source_address_are_limited_and_carry_retry_after() {
    let h = harness_with(|c| c.limits.token_per_source = Rate::new(4, 0.1)).await;
    let t = h.tenant("acme").await;
    let app = actix_web::test::init_service(server::create_app(h.state.clone())).await;
    for _ in 0..4 {
        let (status, _) = h
            .send(token_req(&t.client_id, &t.client_secret).from("203.0.113.7:4000"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let got = h
        .send(token_req(&t.client_id, &t.client_secret).from("203.0.113.7:4001"))
        .await;
    assert_error(&got, 429, "rate_limited");
    // The header, as a client's retry middleware reads it.
    let req = actix_web::test::TestRequest::post()
        .uri(TOKEN)
        .peer_addr("203.0.113.7:4002".parse().unwrap())
        .insert_header(("Content-Type", "application/json"))
        .set_payload(
            json!({"client_id": t.client_id, "client_secret": t.client_secret}).to_string(),
        )
        .to_request();
    let resp = actix_web::test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("Retry-After")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry));
    // Another address is not affected.
    let (status, _) = h
        .send(token_req(&t.client_id, &t.client_secret).from("198.51.100.1:4000"))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn checks_beyond_the_cap_at_once_are_refused_with_429() {
    let h = harness_with(|c| {
        c.limits.secret_checks = 1;
        c.limits.secret_check_wait = Duration::from_millis(1);
    })
    .await;
    let t = h.tenant("acme").await;
    let answers =
        futures::future::join_all((0..16).map(|_| h.send(token_req(&t.client_id, "cs_wrong"))))
            .await;
    let codes: Vec<&str> = answers
        .iter()
        .map(|(_, b)| b["error"]["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"unauthenticated"), "{codes:?}");
    let busy = answers
        .iter()
        .find(|(_, b)| b["error"]["code"] == "rate_limited")
        .unwrap_or_else(|| panic!("no check was refused: {codes:?}"));
    assert!(busy.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at once"));
}

/// The median time of `n` token requests.
async fn median(h: &Harness, client_id: &str, n: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let got = h.send(token_req(client_id, "cs_wrong_secret")).await;
        assert_error(&got, 401, "unauthenticated");
        times.push(started.elapsed());
    }
    times.sort();
    times[n / 2]
}

#[actix_web::test]
async fn an_unknown_client_id_costs_what_a_known_one_costs() {
    let h = harness_with(|c| c.limits.token_failures_per_client = Rate::new(100, 1.0)).await;
    let t = h.tenant("acme").await;
    let known = median(&h, &t.client_id, 7).await;
    let unknown = median(&h, "app_nobody_has_this_id", 7).await;
    // Without the decoy check an unknown id answered ~20x faster (no argon2 at all).
    assert!(
        unknown * 3 >= known && known * 3 >= unknown,
        "known {known:?}, unknown {unknown:?}"
    );
    let body: Value = h.send(token_req("app_nobody_has_this_id", "x")).await.1;
    assert_eq!(
        body["error"]["message"],
        "invalid client_id or client_secret"
    );
}
