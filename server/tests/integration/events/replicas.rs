//! Three replicas (three servers' states and event loops) on one PostgreSQL database share the
//! work of 50 Gmail connectors: 1,000 mailbox changes, pushed through Pub/Sub to one replica,
//! polled and delivered by whichever replica claims them. Every event reaches the webhook, none
//! twice (by event id), each connector's in order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use connector_core::Secret;
use sandbox_gmail::pubsub::PushSubscription;
use sandbox_gmail::GmailSandbox;
use sandbox_kit::Emulator;
use serde_json::{json, Value};
use server::services::events::push::GmailPushConfig;

use super::delivery::{Hook, OK, SECRET};
use super::CONNECTORS;
use crate::common::harness::{harness_with, Harness, Req};
use crate::common::pgdb;

const REPLICAS: usize = 3;
const MAILBOXES: usize = 50;
/// Per mailbox: new messages, then label changes of the first few.
const NEW: usize = 16;
const CHANGED: usize = 4;
const SCOPE: &str = "https://mail.google.com/";
const TOPIC: &str = "projects/sandbox/topics/gmail";
const ACCOUNT: &str = "gmail-push@sandbox.iam.gserviceaccount.com";

fn user(i: usize) -> String {
    format!("user{i}@example.com")
}

fn raw(i: usize, k: usize) -> Vec<u8> {
    format!(
        "From: grace@example.com\r\nTo: {}\r\nSubject: m{i}-{k}\r\n\r\nbody\r\n",
        user(i)
    )
    .into_bytes()
}

async fn replica(db_url: &str, key: &str, gmail: &GmailSandbox) -> Harness {
    let (db_url, key) = (db_url.to_string(), key.to_string());
    let (base, token_url) = (gmail.base_url(), gmail.token_url());
    harness_with(move |c| {
        c.database_url = db_url;
        c.master_key = Some(Secret::new(key));
        *c.providers.entry("gmail") = server::config::ProviderConfig {
            client_id: Some("platform-client".into()),
            client_secret: Some(Secret::new("platform-secret")),
            base_url: Some(base),
            token_url: Some(token_url),
            ..Default::default()
        };
        // With a watch on, polls are a safety net every 20 s: changes come by push.
        c.events.poll_interval = Duration::from_secs(2);
        c.events.backoff = vec![Duration::from_millis(100)];
        c.events.tick = Duration::from_millis(50);
        c.events.lease = Duration::from_secs(5);
    })
    .await
}

#[actix_web::test]
async fn three_replicas_on_postgres_deliver_1000_changes_of_50_connectors_once_each_in_order() {
    let Some(db) = pgdb::fresh().await else {
        return;
    };
    let gmail = GmailSandbox::start(sandbox_gmail::SandboxConfig {
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let key = hex::encode(rand::random::<[u8; 32]>());
    let mut replicas = Vec::new();
    for _ in 0..REPLICAS {
        replicas.push(replica(db.url(), &key, &gmail).await);
    }
    // Pub/Sub pushes to the first replica; whichever replica claims a poll does it.
    let (root, _server) = super::serve_state(&replicas[0]);
    let endpoint = format!("{root}/push/gmail");
    gmail.add_push_subscription(PushSubscription {
        topic: TOPIC.into(),
        subscription: "projects/sandbox/subscriptions/replicas".into(),
        endpoint: endpoint.clone(),
        audience: None,
        service_account: ACCOUNT.into(),
        delay: Duration::from_millis(20),
        duplicate_every: 7,
    });
    for r in &replicas {
        r.state.services.events.enable_gmail_push(GmailPushConfig {
            topic: TOPIC.into(),
            audience: endpoint.clone(),
            service_account: ACCOUNT.into(),
            jwks_url: gmail.jwks_url(),
        });
    }
    let t = replicas[0].tenant("acme").await;
    let hook = Hook::start(OK);
    let (s, v) = replicas[1]
        .send(
            Req::new(
                actix_web::http::Method::PUT,
                "/api/v1/organization/settings",
            )
            .by(&t)
            .json(json!({"webhook_url": hook.url, "webhook_secret": SECRET})),
        )
        .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    // The connectors, made through the replicas in turn (one token works on all).
    let mut ids = Vec::new();
    for i in 0..MAILBOXES {
        let rt = gmail.issue_refresh_token(&user(i), &[SCOPE]);
        let (s, v) = replicas[i % REPLICAS]
            .post(
                CONNECTORS,
                &t,
                json!({"customer_name": format!("c{i}"), "connector_type": "gmail",
                    "credentials": {"refresh_token": rt}}),
            )
            .await;
        assert_eq!(s.as_u16(), 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let _workers: Vec<_> = replicas
        .iter()
        .map(|r| r.state.services.events.spawn())
        .collect();
    // Every connector polled once (its baseline) and watched.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let watches = gmail.stats().by_method.get("watch").copied().unwrap_or(0);
        let mut cursors = 0;
        for id in &ids {
            cursors += usize::from(
                replicas[2]
                    .state
                    .store
                    .stream_cursor(id)
                    .await
                    .unwrap()
                    .is_some(),
            );
        }
        if cursors == MAILBOXES && watches >= MAILBOXES as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{cursors} baselines, {watches} watches"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 1,000 changes: new mail in every mailbox in turn, then label changes.
    let mut inserted: Vec<Vec<String>> = vec![Vec::new(); MAILBOXES];
    for k in 0..NEW {
        for (i, mine) in inserted.iter_mut().enumerate() {
            mine.push(gmail.insert_message(&user(i), &raw(i, k), &["INBOX", "UNREAD"]));
        }
    }
    let http = reqwest::Client::new();
    for (i, mine) in inserted.iter().enumerate() {
        let token = gmail.kit().issue_access_token(&user(i), &[SCOPE]);
        for m in &mine[..CHANGED] {
            let r = http
                .post(format!(
                    "{}/gmail/v1/users/me/messages/{m}/modify",
                    gmail.base_url()
                ))
                .bearer_auth(&token)
                .json(&json!({"addLabelIds": ["STARRED"]}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    }
    let total = MAILBOXES * (NEW + CHANGED);
    assert_eq!(total, 1000);

    let got = hook.wait(total, Duration::from_secs(45)).await;
    // A quiet while: nothing more comes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = hook.bodies();
    assert_eq!(got_after.len(), total, "more deliveries than events");
    let distinct: HashSet<&str> = got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(distinct.len(), total, "no event delivered twice");

    let mut per: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &got_after {
        per.entry(e["connector_id"].as_str().unwrap().to_string())
            .or_default()
            .push(e);
    }
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    assert_eq!(per.len(), MAILBOXES);
    for (id, events) in &per {
        let i = index[id.as_str()];
        let seqs: Vec<i64> = events
            .iter()
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        let want: Vec<i64> = (1..=(NEW + CHANGED) as i64).collect();
        assert_eq!(seqs, want, "connector {i}: in order, without gaps");
        let received: Vec<&str> = events[..NEW]
            .iter()
            .map(|e| {
                assert_eq!(e["type"], "message.received", "{e}");
                e["message"]["id"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            received, inserted[i],
            "connector {i}: in the mailbox's order"
        );
        let updated: Vec<&str> = events[NEW..]
            .iter()
            .map(|e| {
                assert_eq!(e["type"], "message.updated", "{e}");
                e["message"]["id"].as_str().unwrap()
            })
            .collect();
        assert_eq!(updated, inserted[i][..CHANGED], "connector {i}");
    }
}
