//! Throttling, concurrency, bad input and token refresh through `connector.execute`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::harness::{connector, exec, ok, sandbox};
use connector_core::{ErrorCode, HttpConfig, OAuthCredentials, OAuthTokenSource, Secret};
use sandbox_outlook::SandboxConfig;
use serde_json::json;

const ADA: &str = "ada@example.com";

#[tokio::test]
async fn sixty_four_concurrent_calls_queue_at_four_without_a_429() {
    let sb = sandbox(SandboxConfig {
        latency: Some(Duration::from_millis(20)),
        ..Default::default()
    });
    let c = connector(&sb);
    let ids = sb.message_ids(ADA, "inbox");
    sb.reset_stats();
    let calls = (0..64).map(|i| {
        let c = c.clone();
        let id = ids[i % ids.len()].clone();
        async move {
            c.execute("messages", "get", json!({"message_id": id}))
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let st = sb.stats();
    assert_eq!(st.throttled, 0, "{st:?}");
    assert_eq!(st.requests, 64, "no retries were needed");
    assert!(st.max_in_flight <= 4 && st.max_in_flight >= 2, "{st:?}");
}

#[tokio::test]
async fn without_the_cap_the_same_burst_is_throttled() {
    // The control for the test above: the emulator really enforces MailboxConcurrency.
    let sb = sandbox(SandboxConfig {
        latency: Some(Duration::from_millis(20)),
        ..Default::default()
    });
    let client = reqwest::Client::new();
    let calls = (0..64).map(|_| {
        let c = client.clone();
        let url = format!("{}/me", sb.base_url());
        async move {
            c.get(url)
                .bearer_auth("t")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(calls).await;
    assert!(statuses.contains(&429));
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    sb.throttle_next(1, 1);
    let started = Instant::now();
    let out = ok(&c, "profile", "get", json!({})).await;
    assert_eq!(out.result["email_address"], ADA);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    let st = sb.stats();
    assert_eq!((st.requests, st.throttled), (2, 1));
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let sb = sandbox(SandboxConfig::default());
    let c = connector(&sb);
    sb.reset_stats();
    let too_many: Vec<String> = (0..501).map(|i| format!("AAMkA{i:020}=")).collect();
    let cases = [
        (
            "messages",
            "list",
            json!({"folder": "inbox", "unread": true}),
        ),
        ("messages", "list", json!({"is_read": "no"})),
        ("messages", "list", json!({"top": 0})),
        ("messages", "list", json!({"top": 5000})),
        (
            "messages",
            "list",
            json!({"received_after": "last tuesday"}),
        ),
        ("messages", "list", json!({"received_after": "2026-02-30"})),
        (
            "messages",
            "list",
            json!({"received_after": "2026-03-02", "received_before": "2026-03-01"}),
        ),
        ("messages", "list", json!({"search": "x", "is_read": false})),
        (
            "messages",
            "list",
            json!({"search": "x", "order_by": "received_asc"}),
        ),
        ("messages", "list", json!({"importance": "urgent"})),
        (
            "messages",
            "list",
            json!({"page_token": "aHR0cHM6Ly9ldmlsLmV4YW1wbGUvbWU"}),
        ),
        ("messages", "list", json!({"from": "not an address"})),
        ("messages", "list", json!({"select": ["subject", "colour"]})),
        ("messages", "get", json!({})),
        (
            "messages",
            "get",
            json!({"message_id": "../../users/grace"}),
        ),
        ("messages", "get_many", json!({"message_ids": []})),
        ("messages", "get_many", json!({"message_ids": too_many})),
        ("messages", "delta", json!({"delta_token": "not-a-token!"})),
        ("attachments", "get", json!({"message_id": "AAMkA1"})),
        ("mail_folders", "get", json!({"folder": "in box"})),
        ("categories", "list", json!({"all": true})),
    ];
    for (entity, action, params) in cases {
        let e = exec(&c, entity, action, params.clone()).await.unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::InvalidParams,
            "{entity}.{action} {params}: {e}"
        );
    }
    assert_eq!(sb.stats().requests, 0, "{:?}", sb.stats());
    let e = exec(&c, "messages", "archive", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownAction);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_the_new_one_is_kept() {
    let sb = sandbox(SandboxConfig::default());
    let first = sb.issue_refresh_token(ADA, &["User.Read", "Mail.Read", "offline_access"]);
    let stored: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = stored.clone();
    let creds = OAuthCredentials {
        refresh_token: Some(Secret::new(first.clone())),
        client_id: Some("app".into()),
        client_secret: Some(Secret::new("secret")),
        token_url: Some(sb.token_url()),
        ..Default::default()
    };
    let source = OAuthTokenSource::new(creds, reqwest::Client::new())
        .unwrap()
        .on_refresh(Arc::new(move |t| {
            let seen = seen.clone();
            Box::pin(async move {
                if let Some(r) = t.refresh_token {
                    seen.lock().unwrap().push(r.expose().to_string());
                }
                Ok(())
            })
        }));
    let c = connector_outlook::connector(Arc::new(source), HttpConfig::new(sb.base_url())).unwrap();
    assert_eq!(
        ok(&c, "profile", "get", json!({})).await.result["email_address"],
        ADA
    );
    ok(&c, "messages", "list", json!({"top": 1})).await;
    assert_eq!(
        sb.stats().token_requests,
        1,
        "one refresh, then the access token is reused"
    );
    let rotated = stored.lock().unwrap().clone();
    assert_eq!(rotated.len(), 1);
    assert_ne!(rotated[0], first, "Microsoft rotates the refresh token");
    let e = exec(&c, "mailbox_settings", "get", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        e.code,
        ErrorCode::PermissionDenied,
        "only the granted scopes work"
    );
}
