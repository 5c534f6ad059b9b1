//! Outlook push: the Graph emulator validates the server's endpoints, sends change
//! notifications (late, duplicated, lost on request) and lifecycle notifications; the server
//! checks each clientState, reads delta from its cursor and keeps its subscription alive.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use sandbox_outlook::{LifecycleEvent, NewMessage, NoticeSettings};
use serde_json::{json, Value};
use server::services::events::graph::{secret_hash, OutlookPushConfig};

use super::{env_with, Env, USER};
use crate::common::harness::Req;

/// Polls rarely (5 s; 50 s once a subscription is on): what arrives fast came by push.
async fn pushed_env(notices: NoticeSettings) -> (Env, actix_web::dev::ServerHandle) {
    let e = env_with(|c| c.events.poll_interval = Duration::from_secs(5)).await;
    e.outlook.set_notice_settings(notices);
    e.outlook.set_recording(true);
    let (root, handle) = e.serve();
    e.h.state
        .services
        .events
        .enable_outlook_push(OutlookPushConfig {
            notification_url: format!("{root}/push/outlook"),
        });
    (e, handle)
}

fn notices() -> NoticeSettings {
    NoticeSettings {
        delay: Duration::from_millis(100),
        ..Default::default()
    }
}

fn mail(subject: &str) -> NewMessage {
    NewMessage {
        subject: subject.into(),
        body: format!("About {subject}."),
        ..Default::default()
    }
}

impl Env {
    /// The connector's subscription in the emulator (waits for one other than `not`, and for
    /// the server to have stored it once Graph answered).
    async fn subscription(&self, not: Option<&str>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ids = self.outlook.subscription_ids(USER);
            if let Some(id) = ids.iter().find(|id| Some(id.as_str()) != not) {
                let stored = self
                    .h
                    .state
                    .store
                    .push_secrets("outlook", id)
                    .await
                    .unwrap();
                if !stored.is_empty() {
                    return self.outlook.subscription_json(id).unwrap();
                }
            }
            assert!(Instant::now() < deadline, "no subscription: {ids:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Requests the emulator answered on this path (method, path suffix).
    fn calls(&self, method: &str, path_part: &str) -> usize {
        self.outlook
            .requests()
            .iter()
            .filter(|r| r.method == method && r.path.contains(path_part))
            .count()
    }

    /// Waits for the next event after `after` (by push: within `within`).
    async fn next_event(&self, id: &str, after: usize, within: Duration) -> Value {
        let started = Instant::now();
        let page = self.feed(id, &after.to_string(), 10).await;
        let event = page["data"][0].clone();
        assert!(event.is_object(), "no event after {after}: {page}");
        assert!(
            started.elapsed() < within,
            "came by push, not by the 50 s poll: {:?}",
            started.elapsed()
        );
        event
    }

    /// The inbox's message ids now.
    fn inbox(&self) -> BTreeSet<String> {
        self.outlook
            .message_ids(USER, "inbox")
            .into_iter()
            .collect()
    }
}

/// message.received ids of a list of events.
fn received(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["type"] == "message.received")
        .map(|e| e["message"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn outlook_push_brings_each_change_at_once_and_duplicates_make_one_event() {
    let (e, _server) = pushed_env(NoticeSettings {
        duplicate_every: 1,
        ..notices()
    })
    .await;
    let id = e.connector("outlook").await;
    let sub = e.subscription(None).await;
    assert_eq!(sub["resource"], "me/messages", "every folder: {sub}");
    assert_eq!(sub["changeType"], "created,updated,deleted");
    assert!(sub["notificationUrl"]
        .as_str()
        .unwrap()
        .ends_with("/push/outlook"));
    assert!(sub["lifecycleNotificationUrl"]
        .as_str()
        .unwrap()
        .ends_with("/push/outlook/lifecycle"));
    // The secret is kept only as its hash.
    let secret = sub["clientState"].as_str().unwrap();
    assert!(secret.len() >= 32, "a random secret: {secret}");
    let sid = sub["id"].as_str().unwrap();
    let stored = e.h.state.store.push_secrets("outlook", sid).await.unwrap();
    assert_eq!(stored, [(id.clone(), Some(secret_hash(secret)))]);
    let before = e.inbox();

    let m = e.outlook.deliver(USER, "inbox", mail("pushed")).unwrap();
    let ev = e.next_event(&id, 0, Duration::from_secs(4)).await;
    assert_eq!(ev["type"], "message.received");
    assert_eq!(ev["message"]["id"], json!(m));
    assert!(e.outlook.set_read(USER, &m, true));
    e.next_event(&id, 1, Duration::from_secs(4)).await;
    assert!(e.outlook.delete_message(USER, &m));
    e.next_event(&id, 2, Duration::from_secs(4)).await;
    let n = e.outlook.deliver(USER, "inbox", mail("second")).unwrap();
    let got = e.exactly(&id, 4).await;
    assert_eq!(
        super::kinds(&got),
        [
            "message.received",
            "message.updated",
            "message.deleted",
            "message.received"
        ]
    );
    assert!(
        e.outlook.notifications_delivered() >= 8,
        "every notification came twice and was answered 2xx: {}",
        e.outlook.notifications_delivered()
    );
    // Compared with the mailbox: the inbox's new mail is what the events told.
    let new: BTreeSet<String> = e.inbox().difference(&before).cloned().collect();
    assert_eq!(new, BTreeSet::from([n]));
}

fn notification(sub: &str, client_state: &str) -> Value {
    json!({"value": [{"subscriptionId": sub, "clientState": client_state,
        "changeType": "created", "resource": "Users/x/Messages/y",
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
        "tenantId": "00000000-0000-0000-0000-000000000001"}]})
}

#[actix_web::test]
async fn graph_handshakes_are_echoed_and_a_wrong_client_state_is_refused_and_changes_nothing() {
    let (e, _server) = pushed_env(notices()).await;
    let id = e.connector("outlook").await;
    let sub = e.subscription(None).await;
    let sid = sub["id"].as_str().unwrap();
    let secret = sub["clientState"].as_str().unwrap();

    for path in ["/push/outlook", "/push/outlook/lifecycle"] {
        let token = "Validation: Testing client application reachability <&>";
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("validationToken", token)
            .finish();
        let (s, v) =
            e.h.send(Req::new(Method::POST, format!("{path}?{q}")).content_type("text/plain"))
                .await;
        assert_eq!(s.as_u16(), 200, "{path}: {v}");
        assert_eq!(v["raw"], token, "{path}: echoed as plain text");
        // A body that comes with the handshake must still be a notification collection.
        let (s, v) =
            e.h.send(Req::new(Method::POST, format!("{path}?{q}")).json(json!({"value": 3})))
                .await;
        assert_eq!(s.as_u16(), 400, "{path}: {v}");
        assert_eq!(v["error"]["code"], "invalid_params");
    }

    let reads = || e.calls("GET", "/delta");
    // Let the polls after the subscription settle.
    let mut before = reads();
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if reads() == before {
            break;
        }
        before = reads();
    }
    let forged = [
        ("a wrong clientState", notification(sid, "guessed")),
        ("the stored hash", notification(sid, &secret_hash(secret))),
        ("another subscription", notification("not-ours", secret)),
        (
            "no clientState",
            json!({"value": [{"subscriptionId": sid}]}),
        ),
    ];
    for (why, body) in &forged {
        for path in ["/push/outlook", "/push/outlook/lifecycle"] {
            let mut body = body.clone();
            body["value"][0]["lifecycleEvent"] = json!("subscriptionRemoved");
            let (s, v) = e.h.send(Req::new(Method::POST, path).json(body)).await;
            assert_eq!(s.as_u16(), 401, "{why} at {path}: {v}");
            assert_eq!(v["error"]["code"], "unauthenticated");
        }
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(reads(), before, "a refused notification made no read");
    assert_eq!(
        e.outlook.subscription_ids(USER),
        [sid.to_string()],
        "a forged subscriptionRemoved made no new subscription"
    );
    assert_eq!(e.feed(&id, "0", 0).await["data"], json!([]));

    // The genuine clientState is accepted and makes a read (though nothing changed).
    let (s, v) =
        e.h.send(Req::new(Method::POST, "/push/outlook").json(notification(sid, secret)))
            .await;
    assert_eq!(s.as_u16(), 202, "{v}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while reads() == before {
        assert!(
            Instant::now() < deadline,
            "the accepted notification made no read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, _) =
        e.h.send(Req::new(Method::POST, "/push/outlook").raw(b"{\"value\": 5}".to_vec()))
            .await;
    assert_eq!(s.as_u16(), 400);
    e.exactly(&id, 0).await;
}

#[actix_web::test]
async fn a_subscription_is_renewed_before_it_expires() {
    // Subscriptions granted for 3 s: the server renews after two thirds.
    let (e, _server) = pushed_env(NoticeSettings {
        max_lifetime: Duration::from_secs(3),
        ..notices()
    })
    .await;
    let id = e.connector("outlook").await;
    let sub = e.subscription(None).await;
    let sid = sub["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        e.outlook.subscription_ids(USER),
        std::slice::from_ref(&sid),
        "the same subscription lives on"
    );
    assert!(
        e.calls("PATCH", &format!("/subscriptions/{sid}")) >= 2,
        "renewed by PATCH"
    );
    let m = e
        .outlook
        .deliver(USER, "inbox", mail("after renewals"))
        .unwrap();
    let ev = e.next_event(&id, 0, Duration::from_secs(4)).await;
    assert_eq!(ev["message"]["id"], json!(m));
    e.exactly(&id, 1).await;
}

#[actix_web::test]
async fn reauthorization_required_renews_the_subscription_and_loses_nothing() {
    let (e, _server) = pushed_env(notices()).await;
    let id = e.connector("outlook").await;
    let sub = e.subscription(None).await;
    let sid = sub["id"].as_str().unwrap().to_string();
    let before = e.inbox();
    assert!(e
        .outlook
        .lifecycle(&sid, LifecycleEvent::ReauthorizationRequired));
    // Until renewed, Graph holds its notifications back: this one is caught up by delta.
    let a = e.outlook.deliver(USER, "inbox", mail("held back")).unwrap();
    let ev = e.next_event(&id, 0, Duration::from_secs(5)).await;
    assert_eq!(ev["message"]["id"], json!(a));
    let deadline = Instant::now() + Duration::from_secs(5);
    while e.calls("PATCH", &format!("/subscriptions/{sid}")) == 0 {
        assert!(Instant::now() < deadline, "not renewed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Renewed: notifications flow again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = e.outlook.deliver(USER, "inbox", mail("after")).unwrap();
    let ev = e.next_event(&id, 1, Duration::from_secs(4)).await;
    assert_eq!(ev["message"]["id"], json!(b));
    let got = e.exactly(&id, 2).await;
    let new: BTreeSet<String> = e.inbox().difference(&before).cloned().collect();
    assert_eq!(received(&got), new, "compared with the mailbox");
    assert_eq!(e.outlook.subscription_ids(USER), [sid]);
}

#[actix_web::test]
async fn a_removed_subscription_is_made_anew_and_loses_nothing() {
    let (e, _server) = pushed_env(notices()).await;
    let id = e.connector("outlook").await;
    let sub = e.subscription(None).await;
    let old = sub["id"].as_str().unwrap().to_string();
    let before = e.inbox();
    assert!(e
        .outlook
        .lifecycle(&old, LifecycleEvent::SubscriptionRemoved));
    // No subscription: nobody tells about this one.
    let a = e.outlook.deliver(USER, "inbox", mail("unwatched")).unwrap();
    let new_sub = e.subscription(Some(&old)).await;
    let new_id = new_sub["id"].as_str().unwrap().to_string();
    assert_ne!(new_sub["clientState"], sub["clientState"], "a new secret");
    let ev = e.next_event(&id, 0, Duration::from_secs(5)).await;
    assert_eq!(ev["message"]["id"], json!(a));
    let b = e
        .outlook
        .deliver(USER, "inbox", mail("watched again"))
        .unwrap();
    let ev = e.next_event(&id, 1, Duration::from_secs(4)).await;
    assert_eq!(ev["message"]["id"], json!(b));
    let got = e.exactly(&id, 2).await;
    let new: BTreeSet<String> = e.inbox().difference(&before).cloned().collect();
    assert_eq!(received(&got), new, "compared with the mailbox");
    assert_eq!(e.outlook.subscription_ids(USER), [new_id]);
}

#[actix_web::test]
async fn missed_notifications_are_caught_up_through_delta() {
    let (e, _server) = pushed_env(notices()).await;
    let id = e.connector("outlook").await;
    let sub = e.subscription(None).await;
    let sid = sub["id"].as_str().unwrap().to_string();
    let before = e.inbox();
    // Let the poll after the subscription settle, then lose the next notification.
    tokio::time::sleep(Duration::from_millis(800)).await;
    e.outlook.lose_notifications(1);
    let a = e.outlook.deliver(USER, "inbox", mail("lost")).unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        e.feed(&id, "0", 0).await["data"],
        json!([]),
        "its notification was lost"
    );
    assert!(e.outlook.lifecycle(&sid, LifecycleEvent::Missed));
    let ev = e.next_event(&id, 0, Duration::from_secs(4)).await;
    assert_eq!(ev["message"]["id"], json!(a));
    let got = e.exactly(&id, 1).await;
    let new: BTreeSet<String> = e.inbox().difference(&before).cloned().collect();
    assert_eq!(received(&got), new, "compared with the mailbox");
}
