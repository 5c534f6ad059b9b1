//! Gmail's limits beyond the per-minute quota (docs/provider-behaviour.md): requests in flight
//! per user with batch parts counted, daily sends, and the size of a plain request body; each
//! with its switch.

use std::time::Duration;

use crate::support::{b64, start, Client, API};
use sandbox_gmail::{
    Behaviour, SandboxConfig, Seed, CONCURRENT_REQUESTS, CONSUMER_DAILY_SENDS,
    WORKSPACE_DAILY_SENDS,
};
use serde_json::{json, Value};

/// A batch of GETs of `ids` (format=minimal): each part's (status, body, headers text).
async fn batch(c: &Client, ids: &[String]) -> Vec<(u16, Value, String)> {
    let mut body = String::new();
    for (i, id) in ids.iter().enumerate() {
        body.push_str(&format!("--q\r\nContent-Type: application/http\r\nContent-ID: <item-{i}>\r\n\r\nGET {API}/messages/{id}?format=minimal HTTP/1.1\r\n\r\n"));
    }
    body.push_str("--q--\r\n");
    let r = c
        .http
        .post(format!("{}/batch/gmail/v1", c.base))
        .bearer_auth(&c.token)
        .header("content-type", "multipart/mixed; boundary=q")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    let boundary = ct.split("boundary=").nth(1).unwrap().to_string();
    let text = r.text().await.unwrap();
    text.split(&format!("--{boundary}"))
        .filter(|p| p.contains("HTTP/1.1 "))
        .map(|p| {
            let http = &p[p.find("HTTP/1.1 ").unwrap()..];
            let status = http[9..12].parse().unwrap();
            let (head, body) = http.split_once("\r\n\r\n").unwrap();
            let v = serde_json::from_str(body.trim()).unwrap_or(Value::Null);
            (status, v, head.to_ascii_lowercase())
        })
        .collect()
}

fn ids_of(sb: &sandbox_gmail::GmailSandbox, n: usize) -> Vec<String> {
    let mb = sb.mailbox("ada@example.com").unwrap();
    mb.messages.iter().take(n).map(|m| m.id.clone()).collect()
}

#[tokio::test]
async fn a_cold_batch_of_100_is_partly_refused_as_too_many_concurrent_requests_and_25_pass() {
    let sb = start(SandboxConfig {
        seed: Seed::Count(120),
        ..Default::default()
    });
    let c = Client::new(&sb, "t");
    let ids = ids_of(&sb, 100);
    let parts = batch(&c, &ids).await;
    assert_eq!(parts.len(), 100);
    let refused: Vec<_> = parts.iter().filter(|p| p.0 == 429).collect();
    assert_eq!(
        refused.len(),
        100 - CONCURRENT_REQUESTS,
        "parts over the limit"
    );
    assert_eq!(
        parts.iter().filter(|p| p.0 == 200).count(),
        CONCURRENT_REQUESTS
    );
    let (_, v, head) = refused[0];
    assert_eq!(
        v["error"]["message"],
        "Too many concurrent requests for user"
    );
    assert_eq!(v["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert_eq!(v["error"]["errors"][0]["domain"], "global");
    assert!(!head.contains("retry-after"), "Google sends none: {head}");
    assert_eq!(sb.stats().rate_limited as usize, 100 - CONCURRENT_REQUESTS);

    // 25 at once pass.
    let parts = batch(&c, &ids[..25]).await;
    assert!(parts.iter().all(|p| p.0 == 200), "{parts:?}");

    // With quotas off, a batch of 100 passes.
    sb.set_quotas(false);
    let parts = batch(&c, &ids).await;
    assert!(parts.iter().all(|p| p.0 == 200));
}

#[tokio::test]
async fn requests_in_flight_and_batch_parts_share_the_users_limit() {
    let sb = start(SandboxConfig {
        seed: Seed::Count(60),
        latency: Some(Duration::from_millis(1500)),
        ..Default::default()
    });
    let c = Client::new(&sb, "t");
    let ids = ids_of(&sb, CONCURRENT_REQUESTS);
    // A batch of 50 holds every slot for its 1.5 s; a call meanwhile is refused.
    let slow = {
        let c = Client::new(&sb, "t");
        let ids = ids.clone();
        tokio::spawn(async move { batch(&c, &ids).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, v) = c.get(&format!("{API}/profile")).await;
    assert_eq!(
        (s, &v["error"]["message"]),
        (429, &json!("Too many concurrent requests for user"))
    );
    assert!(slow.await.unwrap().iter().all(|p| p.0 == 200));
    // Slots are given back.
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
}

#[tokio::test]
async fn sends_stop_at_the_daily_limit_and_say_when_to_retry() {
    let sb = start(SandboxConfig {
        seed: Seed::Empty,
        ..Default::default()
    });
    assert_eq!(sb.behaviour().daily_send_limit, Some(CONSUMER_DAILY_SENDS));
    assert_eq!((CONSUMER_DAILY_SENDS, WORKSPACE_DAILY_SENDS), (500, 2_000));
    sb.set_behaviour(Behaviour {
        daily_send_limit: Some(2),
        ..Behaviour::default()
    });
    let c = Client::new(&sb, "t");
    let raw = b64("To: grace@example.com\nSubject: s\n\nx\n");
    let path = format!("{API}/messages/send");
    let send = || c.post(&path, json!({"raw": raw}));
    assert_eq!(send().await.0, 200);
    // drafts.send counts too.
    let (_, d) = c
        .post(&format!("{API}/drafts"), json!({"message": {"raw": raw}}))
        .await;
    let (s, v) = c
        .post(&format!("{API}/drafts/send"), json!({"id": d["id"]}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = send().await;
    assert_eq!(s, 429, "{v}");
    assert_eq!(v["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("User-rate limit exceeded.  Retry after "));
    // Nothing else is refused, and grace has her own count.
    assert_eq!(c.get(&format!("{API}/profile")).await.0, 200);
    sb.set_behaviour(Behaviour {
        daily_send_limit: None,
        ..Behaviour::default()
    });
    assert_eq!(send().await.0, 200);
}

#[tokio::test]
async fn a_plain_body_over_the_cap_is_refused_and_the_upload_path_takes_it() {
    let sb = start(SandboxConfig {
        seed: Seed::Empty,
        quotas: false,
        ..Default::default()
    });
    let c = Client::new(&sb, "t");
    let big = format!(
        "To: grace@example.com\r\nSubject: big\r\n\r\n{}\r\n",
        "x".repeat(900_000)
    );
    let (s, v) = c
        .post(&format!("{API}/messages/send"), json!({"raw": b64(&big)}))
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "Request payload size exceeds the limit: 1048576 bytes."
    );
    assert_eq!(v["error"]["errors"][0]["reason"], "badRequest");
    assert!(sb.mailbox("grace@example.com").unwrap().messages.is_empty());

    // The media upload path takes the same message.
    let body = format!(
        "--u\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{{}}\r\n--u\r\nContent-Type: message/rfc822\r\n\r\n{big}\r\n--u--\r\n"
    );
    let r = c
        .http
        .post(format!(
            "{}/upload{API}/messages/send?uploadType=multipart",
            c.base
        ))
        .bearer_auth("t")
        .header("content-type", "multipart/related; boundary=u")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Switched off, the plain body is taken.
    sb.set_behaviour(Behaviour {
        json_body_limit: None,
        ..Behaviour::default()
    });
    let (s, v) = c
        .post(&format!("{API}/messages/send"), json!({"raw": b64(&big)}))
        .await;
    assert_eq!(s, 200, "{v}");
}
