//! The retry policy: idempotent requests retry transient failures with backoff, Retry-After is
//! honoured up to the cap, and a non-idempotent request is never sent twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::common::{http, quick_retry};
use connector_core::{
    ErrorCode, HttpConfig, ProviderClient, ProviderRequest, RetryConfig, StaticToken,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(base: &str) -> ProviderClient {
    ProviderClient::new(http(base)).unwrap()
}

fn token() -> StaticToken {
    StaticToken::new("tok")
}

/// Answers `status` `times` times, then 200.
async fn flaky(
    server: &MockServer,
    status: u16,
    times: u64,
    extra: impl Fn(ResponseTemplate) -> ResponseTemplate,
) {
    Mock::given(path("/r"))
        .respond_with(extra(ResponseTemplate::new(status)))
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(path("/r"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .with_priority(2)
        .mount(server)
        .await;
}

async fn hits(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn idempotent_requests_retry_transient_statuses() {
    for status in [429u16, 500, 502, 503, 504] {
        let server = MockServer::start().await;
        flaky(&server, status, 2, |r| r).await;
        let resp = client(&server.uri())
            .send(&ProviderRequest::get("/r"), Some(&token()), true)
            .await
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(resp.status, 200);
        assert_eq!(hits(&server).await, 3, "{status}");
    }
}

#[tokio::test]
async fn gmail_403_rate_limit_is_retried_like_429() {
    let server = MockServer::start().await;
    flaky(&server, 403, 1, |r| {
        r.set_body_json(
            json!({"error": {"code": 403, "message": "User Rate Limit Exceeded",
            "errors": [{"reason": "userRateLimitExceeded"}], "status": "PERMISSION_DENIED"}}),
        )
    })
    .await;
    client(&server.uri())
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap();
    assert_eq!(hits(&server).await, 2);
}

#[tokio::test]
async fn attempts_are_bounded_and_the_last_error_returned() {
    let server = MockServer::start().await;
    flaky(&server, 503, 100, |r| r).await;
    let e = client(&server.uri())
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderUnavailable);
    assert_eq!(hits(&server).await, quick_retry().max_attempts as usize);
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let server = MockServer::start().await;
    flaky(&server, 404, 100, |r| r).await;
    let e = client(&server.uri())
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert_eq!(hits(&server).await, 1);
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let server = MockServer::start().await;
    flaky(&server, 429, 1, |r| r.insert_header("retry-after", "1")).await;
    let started = Instant::now();
    client(&server.uri())
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hits(&server).await, 2);
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    let server = MockServer::start().await;
    // HTTP dates have whole seconds: two seconds ahead is at least one second of waiting.
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    flaky(&server, 503, 1, move |r| {
        r.insert_header("retry-after", at.as_str())
    })
    .await;
    let started = Instant::now();
    client(&server.uri())
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hits(&server).await, 2);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_returns_rate_limited_at_once() {
    let server = MockServer::start().await;
    flaky(&server, 429, 1, |r| r.insert_header("retry-after", "120")).await;
    let started = Instant::now();
    let e = client(&server.uri())
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(120)));
    assert_eq!(e.to_body()["error"]["details"]["retry_after"], 120);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(hits(&server).await, 1);
}

#[tokio::test]
async fn a_non_idempotent_post_that_gets_a_503_is_sent_once_and_outcome_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .send(
            &ProviderRequest::post("/send").json(json!({"raw": "x"})),
            Some(&token()),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown);
    assert!(
        e.message.contains("check whether it took effect"),
        "{}",
        e.message
    );
    assert_eq!(e.details["provider_status"], 503);
    assert_eq!(hits(&server).await, 1);
}

#[tokio::test]
async fn a_non_idempotent_post_that_is_throttled_is_not_resent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3"))
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .send(&ProviderRequest::post("/send"), Some(&token()), false)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
    assert_eq!(hits(&server).await, 1);
}

#[tokio::test]
async fn the_request_override_makes_a_post_retryable() {
    let server = MockServer::start().await;
    flaky(&server, 503, 1, |r| r).await;
    client(&server.uri())
        .send(
            &ProviderRequest::post("/r").idempotent(true),
            Some(&token()),
            false,
        )
        .await
        .unwrap();
    assert_eq!(hits(&server).await, 2);
}

/// A server that reads each request and closes the connection without answering.
async fn resetting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = sock.set_zero_linger();
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn a_non_idempotent_post_on_a_reset_connection_is_sent_once() {
    let (base, seen) = resetting_server().await;
    let e = client(&base)
        .send(
            &ProviderRequest::post("/send").json(json!({})),
            Some(&token()),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown, "{e}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_idempotent_get_on_a_reset_connection_is_retried() {
    let (base, seen) = resetting_server().await;
    let e = client(&base)
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderUnavailable, "{e}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        quick_retry().max_attempts as usize
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_post() {
    // Reserve a port, free it, and start the server there only after the first attempts failed.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    drop(std_listener);
    let mut cfg = HttpConfig::new(format!("http://{addr}"));
    cfg.retry = RetryConfig {
        max_attempts: 40,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(40),
        max_total_wait: Duration::from_secs(5),
    };
    let c = ProviderClient::new(cfg).unwrap();
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = std::net::TcpListener::bind(addr).unwrap();
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
            .mount(&server)
            .await;
        server
    });
    let resp = c
        .send(&ProviderRequest::post("/send"), Some(&token()), false)
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let server = starter.await.unwrap();
    assert_eq!(hits(&server).await, 1);
}

#[tokio::test]
async fn a_refused_connection_fails_as_provider_unavailable_when_attempts_run_out() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    drop(std_listener);
    let e = client(&format!("http://{addr}"))
        .send(&ProviderRequest::post("/send"), Some(&token()), false)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderUnavailable);
}

#[tokio::test]
async fn the_concurrency_limit_makes_callers_wait_in_line() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(150)))
        .mount(&server)
        .await;
    let run = |limit: Option<usize>| {
        let uri = server.uri();
        async move {
            let mut cfg = http(&uri);
            cfg.max_concurrency = limit;
            let c = ProviderClient::new(cfg).unwrap();
            let started = Instant::now();
            let calls = (0..6).map(|_| {
                let c = c.clone();
                async move {
                    c.send(&ProviderRequest::get("/slow"), Some(&token()), true)
                        .await
                        .unwrap()
                }
            });
            futures::future::join_all(calls).await;
            started.elapsed()
        }
    };
    let limited = run(Some(2)).await;
    assert!(
        limited >= Duration::from_millis(440),
        "6 calls, 2 at a time: {limited:?}"
    );
    let free = run(None).await;
    assert!(free < Duration::from_millis(440), "unlimited: {free:?}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/r"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/elsewhere"))
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderError);
    assert_eq!(hits(&server).await, 1);
}

#[tokio::test]
async fn a_slow_answer_hits_the_total_timeout_and_is_retried_when_idempotent() {
    let server = MockServer::start().await;
    Mock::given(path("/r"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .mount(&server)
        .await;
    let mut cfg = http(&server.uri());
    cfg.total_timeout = Duration::from_millis(100);
    cfg.retry.max_attempts = 2;
    let c = ProviderClient::new(cfg).unwrap();
    let e = c
        .send(&ProviderRequest::get("/r"), Some(&token()), true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ProviderUnavailable);
    assert_eq!(hits(&server).await, 2);
    let e = c
        .send(&ProviderRequest::post("/r"), Some(&token()), false)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown);
    assert_eq!(hits(&server).await, 3);
}

#[tokio::test]
async fn a_token_that_cannot_be_a_header_fails_at_once_without_leaking() {
    let server = MockServer::start().await;
    let e = client(&server.uri())
        .send(
            &ProviderRequest::get("/r"),
            Some(&StaticToken::new("bad\ntoken-XYZ")),
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    assert!(!format!("{e:?}").contains("token-XYZ"));
    assert_eq!(hits(&server).await, 0);
}

#[tokio::test]
async fn outcome_unknown_keeps_the_provider_words_without_telling_to_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_json(
            json!({"error": {"code": "UnknownError", "message": "Upstream hiccup"}}),
        ))
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .send(&ProviderRequest::post("/send"), Some(&token()), false)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown);
    assert!(
        e.message.contains("HTTP 502: Upstream hiccup"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("try again later"), "{}", e.message);
    assert_eq!(e.details["provider_code"], "UnknownError");
}

#[tokio::test]
async fn the_token_never_goes_to_another_origin() {
    let api = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path("/upload"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    Mock::given(path("/r"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let c = client(&api.uri());
    c.send(
        &ProviderRequest::get(format!("{}/upload", elsewhere.uri())),
        Some(&token()),
        true,
    )
    .await
    .unwrap();
    let mut no_auth = ProviderRequest::get("/r");
    no_auth.no_auth = true;
    c.send(&no_auth, Some(&token()), true).await.unwrap();
    c.send(
        &ProviderRequest::get(format!("{}/r", api.uri())),
        Some(&token()),
        true,
    )
    .await
    .unwrap();
    // A relative path is joined to the root and never leaves its origin, even when it reads
    // like another host: the token goes with it without comparing origins.
    let host = elsewhere.uri().trim_start_matches("http://").to_string();
    Mock::given(path(format!("//{host}/upload")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    c.send(
        &ProviderRequest::get(format!("//{host}/upload")),
        Some(&token()),
        true,
    )
    .await
    .unwrap();
    let foreign = elsewhere.received_requests().await.unwrap();
    assert_eq!(foreign.len(), 1);
    assert!(foreign[0].headers.get("authorization").is_none());
    let own = api.received_requests().await.unwrap();
    assert!(own[0].headers.get("authorization").is_none(), "no_auth");
    assert_eq!(own[1].headers.get("authorization").unwrap(), "Bearer tok");
    assert_eq!(own[2].url.path(), format!("//{host}/upload"));
    assert_eq!(own[2].headers.get("authorization").unwrap(), "Bearer tok");
}
