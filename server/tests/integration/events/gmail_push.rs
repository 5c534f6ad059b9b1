//! Gmail push: the emulator publishes through Pub/Sub push with OIDC tokens of an emulated
//! Google issuer; the server verifies them and reads the history from its cursor.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use base64::Engine;
use sandbox_gmail::pubsub::{self, PushSubscription};
use serde_json::{json, Value};
use server::services::events::push::GmailPushConfig;

use super::{env_with, Env, USER};
use crate::common::harness::Req;

const TOPIC: &str = "projects/sandbox/topics/gmail";
const ACCOUNT: &str = "gmail-push@sandbox.iam.gserviceaccount.com";

/// Polls rarely (5 s; 50 s once a watch is on): what arrives fast came by push.
async fn pushed_env(duplicate_every: u32) -> (Env, String, actix_web::dev::ServerHandle) {
    let e = env_with(|c| c.events.poll_interval = Duration::from_secs(5)).await;
    let (root, handle) = e.serve();
    let endpoint = format!("{root}/push/gmail");
    e.gmail.add_push_subscription(PushSubscription {
        topic: TOPIC.into(),
        subscription: "projects/sandbox/subscriptions/events".into(),
        endpoint: endpoint.clone(),
        audience: None,
        service_account: ACCOUNT.into(),
        delay: Duration::from_millis(100),
        duplicate_every,
    });
    e.h.state
        .services
        .events
        .enable_gmail_push(GmailPushConfig {
            topic: TOPIC.into(),
            audience: endpoint.clone(),
            service_account: ACCOUNT.into(),
            jwks_url: e.gmail.jwks_url(),
        });
    (e, endpoint, handle)
}

fn raw(subject: &str) -> Vec<u8> {
    format!("From: grace@example.com\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\nhi\r\n")
        .into_bytes()
}

/// Waits until the connector's watch is on (set up after its first poll).
async fn watched(e: &Env) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.watch_calls() == 0 {
        assert!(Instant::now() < deadline, "no watch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Env {
    /// users.watch calls the emulator answered.
    fn watch_calls(&self) -> u64 {
        self.gmail
            .stats()
            .by_method
            .get("watch")
            .copied()
            .unwrap_or(0)
    }
}

#[actix_web::test]
async fn gmail_push_brings_each_change_at_once_and_duplicates_make_one_event() {
    let (e, _endpoint, _server) = pushed_env(1).await;
    let id = e.connector("gmail").await;
    watched(&e).await;
    let started = Instant::now();
    let m = e.gmail.insert_message(USER, &raw("pushed"), &["INBOX"]);
    let page = e.feed(&id, "0", 5).await;
    assert_eq!(page["data"][0]["type"], "message.received", "{page}");
    assert_eq!(page["data"][0]["message"]["id"], json!(m));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "came by push, not by the 50 s poll: {:?}",
        started.elapsed()
    );
    e.execute(
        &id,
        "messages",
        "modify",
        json!({"message_id": m, "add_label_ids": ["STARRED"]}),
    )
    .await;
    e.execute(&id, "messages", "trash", json!({"message_id": m}))
        .await;
    e.execute(&id, "messages", "delete", json!({"message_id": m}))
        .await;
    let got = e.exactly(&id, 4).await;
    let kinds: Vec<&str> = got.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message.received",
            "message.updated",
            "message.updated",
            "message.deleted"
        ]
    );
    assert!(
        e.gmail.pushes_delivered() >= 4,
        "every push answered 2xx (duplicates too)"
    );
}

fn push_body(email: &str, history_id: u64) -> Value {
    let data = json!({"emailAddress": email, "historyId": history_id}).to_string();
    json!({"message": {"data": base64::engine::general_purpose::STANDARD.encode(data),
        "messageId": "1", "publishTime": "2026-12-06T00:00:00Z"},
        "subscription": "projects/sandbox/subscriptions/events"})
}

fn forged(claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("forger.pem")).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(pubsub::KEY_ID.into());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[actix_web::test]
async fn forged_expired_or_misaddressed_push_tokens_are_refused_and_change_nothing() {
    let (e, endpoint, _server) = pushed_env(0).await;
    let id = e.connector("gmail").await;
    watched(&e).await;
    let history_lists = || {
        e.gmail
            .stats()
            .by_method
            .get("history.list")
            .copied()
            .unwrap_or(0)
    };
    let good = pubsub::claims(&endpoint, ACCOUNT);
    let mut expired = good.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    expired["iat"] = json!(chrono::Utc::now().timestamp() - 7200);
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("https://elsewhere.example/push");
    let mut wrong_account = good.clone();
    wrong_account["email"] = json!("someone@evil.example");
    let mut unverified = good.clone();
    unverified["email_verified"] = json!(false);
    let mut wrong_issuer = good.clone();
    wrong_issuer["iss"] = json!("https://evil.example");
    let tokens = [
        ("forged signature", forged(&good)),
        ("expired", pubsub::sign(&expired)),
        ("wrong audience", pubsub::sign(&wrong_aud)),
        ("wrong service account", pubsub::sign(&wrong_account)),
        ("email not verified", pubsub::sign(&unverified)),
        ("wrong issuer", pubsub::sign(&wrong_issuer)),
        ("not a JWT", "nope".to_string()),
    ];
    let m = e.gmail.insert_message(USER, &raw("quiet"), &["INBOX"]);
    // Pub/Sub's own push of this change must not help the forged ones: let it land first.
    let first = e.feed(&id, "0", 5).await;
    assert_eq!(first["data"][0]["message"]["id"], json!(m));
    // The event may come from the poll after the watch; the push, and its read, land after it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while e.gmail.pushes_delivered() == 0 {
        assert!(Instant::now() < deadline, "Pub/Sub's push did not land");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut before = history_lists();
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let now = history_lists();
        if now == before {
            break;
        }
        before = now;
    }
    for (why, token) in &tokens {
        let mut req = Req::new(Method::POST, "/push/gmail").json(push_body(USER, 999_999));
        req.token = Some(token);
        let (s, v) = e.h.send(req).await;
        assert_eq!(s.as_u16(), 401, "{why}: {v}");
        assert_eq!(v["error"]["code"], "unauthenticated", "{why}");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(history_lists(), before, "a refused push made no read");
    // The genuine token is accepted (and makes a read, though nothing changed).
    let mut req = Req::new(Method::POST, "/push/gmail").json(push_body(USER, 999_999));
    let token = pubsub::sign(&good);
    req.token = Some(&token);
    let (s, v) = e.h.send(req).await;
    assert_eq!(s.as_u16(), 204, "{v}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while history_lists() == before {
        assert!(Instant::now() < deadline, "the accepted push made no read");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    e.exactly(&id, 1).await;
}
