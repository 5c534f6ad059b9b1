//! `messages.get_many` of 1,000 messages under Gmail's realistic limits (issue 18): at most 50
//! requests in flight per user with batch parts counted, the 2026 quota (6,000 units a minute,
//! 20 per `messages.get`), throttles without `Retry-After`. Every id comes back as its message
//! or as an explicit error; none is missing, none is reported fetched that was not; and the bulk
//! read leaves quota for other calls. The numbers printed here are in docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::{HttpConfig, Secret, StaticToken};
use connector_gmail::GmailOptions;
use sandbox_gmail::{Behaviour, GmailSandbox, QuotaProfile, SandboxConfig, Seed};
use serde_json::{json, Value};

use crate::common::env::{connector_for, run, ADA};

const N: usize = 1000;

fn sandbox() -> GmailSandbox {
    GmailSandbox::start(SandboxConfig {
        seed: Seed::Count(N),
        quotas: true,
        latency: Some(Duration::from_millis(10)),
        ..Default::default()
    })
    .expect("sandbox starts")
}

fn ids(sb: &GmailSandbox) -> Vec<String> {
    let mb = sb.mailbox(ADA).unwrap();
    assert_eq!(mb.messages.len(), N);
    mb.messages.iter().map(|m| m.id.clone()).collect()
}

/// Every id is answered in order, as its message or as an explicit error; returns the number
/// of messages fetched.
fn check_no_gap(ids: &[String], out: &connector_core::Output) -> usize {
    let result = out.result.as_array().unwrap();
    assert_eq!(result.len(), ids.len(), "one entry per id");
    let mut fetched = 0;
    let mut failed = 0;
    for (id, entry) in ids.iter().zip(result) {
        assert_eq!(entry["id"], id.as_str(), "in the order asked");
        match entry.get("error") {
            None => {
                assert!(entry["label_ids"].is_array(), "a decoded message: {entry}");
                fetched += 1;
            }
            Some(e) => {
                assert_eq!(e["code"], "rate_limited", "{entry}");
                assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
                failed += 1;
            }
        }
    }
    assert_eq!(out.metadata["failed"], failed);
    assert_eq!(out.metadata["requested"], ids.len());
    fetched
}

#[tokio::test]
async fn get_many_of_1000_under_the_2026_quota_answers_every_id_and_leaves_quota_for_other_calls() {
    let sb = sandbox();
    assert_eq!(
        sb.behaviour(),
        Behaviour::default(),
        "Gmail's realistic defaults"
    );
    let ids = ids(&sb);
    let gmail = connector_for(&sb, "t");
    sb.reset_stats();
    let started = Instant::now();
    let bulk = run(
        &gmail,
        "messages",
        "get_many",
        json!({"message_ids": ids, "format": "minimal"}),
    );
    // Other calls meanwhile: none of them is starved by the bulk read.
    let others = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for _ in 0..10 {
            run(&gmail, "labels", "get", json!({"label_id": "INBOX"})).await;
            run(
                &gmail,
                "messages",
                "get",
                json!({"message_id": ids[0], "format": "minimal"}),
            )
            .await;
        }
    };
    let (out, ()) = tokio::join!(bulk, others);
    let wall = started.elapsed();
    let fetched = check_no_gap(&ids, &out);
    // 1,000 reads cost 20,000 units; bulk reads may spend three quarters of 6,000 a minute.
    // At most 4,500 units (225 reads) in whole batches of 50: 200.
    assert_eq!(fetched, 200, "the bulk share of one minute's quota");
    let stats = sb.stats();
    eprintln!(
        "2026 quota: {fetched}/{N} fetched, {} failed explicitly, {} HTTP requests ({} batches, {} parts), {} refused by Gmail, wall {:.2?}",
        N - fetched, stats.http_requests, stats.batch_requests, stats.batch_parts, stats.rate_limited, wall
    );
    assert_eq!(
        stats.rate_limited, 0,
        "the pacing kept under Gmail's limits: {stats:?}"
    );
}

#[tokio::test]
async fn get_many_of_1000_under_the_older_quota_fetches_all_within_the_concurrency_limit() {
    let sb = sandbox();
    sb.set_behaviour(Behaviour {
        quota: QuotaProfile::Classic,
        ..Behaviour::default()
    });
    let ids = ids(&sb);
    let gmail = connector_gmail::connector_with_options(
        Arc::new(StaticToken(Secret::new("t"))),
        HttpConfig::new(sb.base_url()),
        GmailOptions {
            quota_units_per_minute: 15_000,
            message_get_units: 5,
            ..GmailOptions::default()
        },
    )
    .unwrap();
    sb.reset_stats();
    let started = Instant::now();
    // A batch size over Gmail's concurrency limit: the pacer keeps the parts in flight under it.
    let out = run(
        &gmail,
        "messages",
        "get_many",
        json!({"message_ids": ids, "format": "minimal", "batch_size": 100}),
    )
    .await;
    let wall = started.elapsed();
    assert_eq!(check_no_gap(&ids, &out), N);
    let stats = sb.stats();
    eprintln!(
        "older quota: {N}/{N} fetched, {} HTTP requests ({} batches, {} parts), {} refused by Gmail, wall {:.2?}",
        stats.http_requests, stats.batch_requests, stats.batch_parts, stats.rate_limited, wall
    );
    assert_eq!(
        stats.batch_parts as usize, N,
        "no part asked twice: {stats:?}"
    );
}

#[tokio::test]
async fn parts_refused_for_concurrency_are_asked_again_alone_and_the_pacer_shrinks() {
    let sb = sandbox();
    sb.set_behaviour(Behaviour {
        quota: QuotaProfile::Classic,
        ..Behaviour::default()
    });
    let ids: Vec<String> = ids(&sb).into_iter().take(300).collect();
    let gmail = connector_gmail::connector_with_options(
        Arc::new(StaticToken(Secret::new("t"))),
        HttpConfig::new(sb.base_url()),
        GmailOptions {
            quota_units_per_minute: 15_000,
            message_get_units: 5,
            ..GmailOptions::default()
        },
    )
    .unwrap();
    // Another client of the same user holds 40 of the 50 slots for 1.5 s.
    sb.set_latency(Some(Duration::from_millis(1500)));
    let hog = {
        let base = sb.base_url();
        let some: Vec<String> = ids.iter().take(40).cloned().collect();
        tokio::spawn(async move { hold_slots(&base, &some).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    sb.set_latency(Some(Duration::from_millis(10)));
    let out = run(
        &gmail,
        "messages",
        "get_many",
        json!({"message_ids": ids, "format": "minimal"}),
    )
    .await;
    hog.await.unwrap();
    assert_eq!(check_no_gap(&ids, &out), ids.len(), "{:?}", out.metadata);
    let stats = sb.stats();
    assert!(stats.rate_limited > 0, "Gmail refused parts: {stats:?}");
    assert!(
        stats.batch_parts as usize > ids.len() + 40,
        "refused parts were asked again: {stats:?}"
    );
}

/// A batch of GETs that holds its parts' slots for the emulator's latency.
async fn hold_slots(base: &str, ids: &[String]) -> Value {
    let mut body = String::new();
    for (i, id) in ids.iter().enumerate() {
        body.push_str(&format!("--h\r\nContent-Type: application/http\r\nContent-ID: <h-{i}>\r\n\r\nGET /gmail/v1/users/me/messages/{id}?format=minimal HTTP/1.1\r\n\r\n"));
    }
    body.push_str("--h--\r\n");
    let r = reqwest::Client::new()
        .post(format!("{base}/batch/gmail/v1"))
        .bearer_auth("t")
        .header("content-type", "multipart/mixed; boundary=h")
        .body(body)
        .send()
        .await
        .unwrap();
    json!(r.status().as_u16())
}
