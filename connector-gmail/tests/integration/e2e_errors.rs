//! Quota throttling with backoff, and missing scopes, against the Gmail sandbox.

use std::time::{Duration, Instant};

use connector_core::ErrorCode;
use sandbox_gmail::{Seed, TokenRule};
use serde_json::json;

use crate::common::env::{connector_for, run, start, with_tokens, ADA};

#[tokio::test]
async fn quota_429_is_retried_after_backing_off() {
    let env = start(crate::common::env::config(Seed::Demo));
    env.sb.set_quotas(true);
    // 5 units per second: labels.get costs 1, so the sixth call in a second is throttled.
    env.sb.set_quota_limit(5, Duration::from_secs(1));
    env.sb.reset_stats();
    let started = Instant::now();
    for _ in 0..8 {
        run(&env.gmail, "labels", "get", json!({"label_id": "INBOX"})).await;
    }
    let stats = env.sb.stats();
    assert!(
        stats.rate_limited >= 1,
        "the quota never answered 429: {stats:?}"
    );
    assert!(
        stats.http_requests > 8,
        "throttled calls were retried: {stats:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the connector backed off"
    );

    // A batch whose parts are throttled: the throttled parts are asked for again.
    let ids = run(
        &env.gmail,
        "messages",
        "list",
        json!({"ids_only": true, "max_results": 5}),
    )
    .await
    .result;
    // Three 20-unit gets (the 2026 quota's cost) per second: the batch of five is partly
    // throttled, and the 429s carry no Retry-After, only the time in their message.
    env.sb.set_quota_limit(60, Duration::from_secs(1));
    let out = run(
        &env.gmail,
        "messages",
        "get_many",
        json!({"message_ids": ids, "format": "minimal"}),
    )
    .await;
    assert_eq!(out.metadata["failed"], 0, "{:?}", out.result);
}

#[tokio::test]
async fn a_token_without_the_scope_gets_permission_denied_naming_it() {
    let sb = with_tokens(
        Seed::Demo,
        vec![
            TokenRule::new("send-only", ADA, &["gmail.send"]),
            TokenRule::new("reader", ADA, &["gmail.readonly"]),
        ],
    );
    let sender = connector_for(&sb, "send-only");
    for (entity, action, params) in [
        ("messages", "get", json!({"message_id": "0000000000000001"})),
        ("messages", "list", json!({})),
        ("labels", "list", json!({})),
    ] {
        let err = sender.execute(entity, action, params).await.unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::PermissionDenied,
            "{entity}.{action}: {err}"
        );
        assert!(
            err.message
                .contains("https://www.googleapis.com/auth/gmail.readonly"),
            "{entity}.{action}: the message should name the scope: {}",
            err.message
        );
    }
    let reader = connector_for(&sb, "reader");
    run(&reader, "labels", "list", json!({})).await;
}

#[tokio::test]
async fn a_query_too_long_for_a_url_is_the_callers_413_not_a_retryable_503() {
    let env = start(crate::common::env::config(Seed::Demo));
    // Long but sendable: an ordinary answer.
    let ok = env
        .gmail
        .execute("messages", "list", json!({"q": "a".repeat(40_000)}))
        .await
        .expect("a 40 KB query is sent");
    assert_eq!(ok.result, json!([]), "nothing matches");
    // Past what a request line can carry (issue 19: a ~65 KB `q` came back as a 503).
    let before = env.sb.stats().http_requests;
    let err = env
        .gmail
        .execute("messages", "list", json!({"q": "a".repeat(70_000)}))
        .await
        .expect_err("cannot be sent");
    assert_eq!(err.code, ErrorCode::PayloadTooLarge, "{err}");
    assert_eq!(err.code.http_status(), 413);
    assert!(err.message.contains("`q`"), "names the fix: {err}");
    assert!(err.details["url_bytes"].as_u64().unwrap() > 70_000);
    assert_eq!(
        env.sb.stats().http_requests,
        before,
        "nothing was sent, nothing retried"
    );
}
