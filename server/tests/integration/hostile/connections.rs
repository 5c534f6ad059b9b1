//! Each connection bound on its own: a request head that stalls (header timeout), the cap on
//! open connections, and the per-source rate limit of the OAuth callback (the other endpoint a
//! stranger reaches without a token).

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use server::limits::Rate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::load::start;
use crate::common::harness::harness_with;

/// Reads until the server closes the connection (or `limit` passes); what it sent.
async fn read_to_close(s: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_stalls_is_answered_408_and_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut s = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let started = Instant::now();
    // A request line and one header, and never the blank line that ends the head.
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(10))
        .await
        .expect("the connection was still open 10 s later");
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(8),
        "closed after {took:?}, the header timeout is 5 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &["--max-connections", "2", "--body-timeout-secs", "30"],
    )
    .await;
    // `start` runs two workers: the cap is one connection each. Two connections whose bodies
    // stall hold both.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/account/applications/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let healthz = format!("{}/healthz", server.base);
    let waited = http
        .get(&healthz)
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        waited.is_err(),
        "a third connection was served while two held the cap: {waited:?}"
    );
    // One closes: the waiting clients are served.
    drop(held.pop());
    let r = http
        .get(&healthz)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("served once a connection closed");
    assert!(r.status().is_success());
}

#[actix_web::test]
async fn oauth_callbacks_per_source_address_are_limited_with_429_and_retry_after() {
    let h = harness_with(|c| c.limits.public_per_source = Rate::new(3, 0.1)).await;
    let app = actix_web::test::init_service(server::create_app(h.state.clone())).await;
    let callback = |peer: &str| {
        actix_web::test::TestRequest::get()
            .uri("/api/v1/integrations/connectors/oauth/callback?state=nope&code=x")
            .peer_addr(peer.parse().unwrap())
            .to_request()
    };
    for port in 0..3 {
        let resp =
            actix_web::test::call_service(&app, callback(&format!("203.0.113.9:{}", 5000 + port)))
                .await;
        // An unknown state: the plain-text refusal, not the limit.
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
    let resp = actix_web::test::call_service(&app, callback("203.0.113.9:5009")).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("Retry-After")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "Retry-After: {retry}");
    let body = actix_web::test::read_body(resp).await;
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("Too many"), "{text}");
    // Another address is not affected.
    let resp = actix_web::test::call_service(&app, callback("198.51.100.2:5000")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
