//! Change and lifecycle notifications as a receiver sees them: both URLs validated, lifecycle
//! events with their effects, duplicates, losses and expiry (the test controls of
//! `sandbox_outlook::notices`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox_outlook::{LifecycleEvent, NewMessage, NoticeSettings, OutlookSandbox};
use serde_json::{json, Value};

use crate::writes::{receiver, start_users, Client, GRACE};

type Got = Arc<Mutex<Vec<Value>>>;

fn expires() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()
}

/// A subscription of grace's inbox with both URLs; (its id, notifications, lifecycle ones).
async fn subscribe(sb: &OutlookSandbox) -> (String, Got, Got) {
    let c = Client::new(sb);
    let (url, got) = receiver(true).await;
    let (lifecycle_url, lifecycle) = receiver(true).await;
    let (s, sub) = c
        .post(
            "grace",
            "/subscriptions",
            json!({"changeType": "created,updated,deleted",
            "notificationUrl": url, "lifecycleNotificationUrl": lifecycle_url,
            "resource": "me/mailFolders('inbox')/messages", "expirationDateTime": expires(),
            "clientState": "s3cret"}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    assert_eq!(sub["lifecycleNotificationUrl"], json!(lifecycle_url));
    (sub["id"].as_str().unwrap().to_string(), got, lifecycle)
}

fn mail(sb: &OutlookSandbox, subject: &str) -> String {
    sb.deliver(
        GRACE,
        "inbox",
        NewMessage {
            subject: subject.into(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// Waits until `got` holds `n` bodies (or 3 s), then a little more for strays.
async fn bodies(got: &Got, n: usize) -> Vec<Value> {
    for _ in 0..150 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    got.lock().unwrap().clone()
}

#[tokio::test]
async fn the_lifecycle_url_is_validated_too_and_lifecycle_events_reach_it() {
    let sb = start_users();
    let c = Client::new(&sb);
    let (good, _) = receiver(true).await;
    let (bad, _) = receiver(false).await;
    let (s, e) = c
        .post("grace", "/subscriptions", json!({"changeType": "created", "notificationUrl": good,
            "lifecycleNotificationUrl": bad, "resource": "me/messages", "expirationDateTime": expires()}))
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(sb.subscription_ids(GRACE).is_empty());

    let (id, _, lifecycle) = subscribe(&sb).await;
    assert!(sb.lifecycle(&id, LifecycleEvent::Missed));
    let got = bodies(&lifecycle, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let n = &got[0]["value"][0];
    assert_eq!(n["lifecycleEvent"], "missed");
    assert_eq!(n["subscriptionId"], json!(id));
    assert_eq!(n["clientState"], "s3cret");
    assert!(n["subscriptionExpirationDateTime"].is_string());
    assert!(!sb.lifecycle("no-such-subscription", LifecycleEvent::Missed));
}

#[tokio::test]
async fn reauthorization_required_holds_notifications_back_until_reauthorized() {
    let sb = start_users();
    sb.set_notice_settings(NoticeSettings {
        duplicate_every: 0,
        ..Default::default()
    });
    let c = Client::new(&sb);
    let (id, got, lifecycle) = subscribe(&sb).await;
    assert!(sb.lifecycle(&id, LifecycleEvent::ReauthorizationRequired));
    assert_eq!(
        bodies(&lifecycle, 1).await[0]["value"][0]["lifecycleEvent"],
        "reauthorizationRequired"
    );
    mail(&sb, "held back");
    assert!(
        bodies(&got, 1).await.is_empty(),
        "held back until reauthorized"
    );
    let (s, _) = c
        .call(
            "grace",
            reqwest::Method::POST,
            &format!("/subscriptions/{id}/reauthorize"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let m = mail(&sb, "flowing again");
    let got = bodies(&got, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["value"][0]["resourceData"]["id"], json!(m));
}

#[tokio::test]
async fn subscription_removed_deletes_the_subscription() {
    let sb = start_users();
    let c = Client::new(&sb);
    let (id, got, lifecycle) = subscribe(&sb).await;
    assert!(sb.lifecycle(&id, LifecycleEvent::SubscriptionRemoved));
    assert_eq!(
        bodies(&lifecycle, 1).await[0]["value"][0]["lifecycleEvent"],
        "subscriptionRemoved"
    );
    let (s, _) = c
        .call(
            "grace",
            reqwest::Method::GET,
            &format!("/subscriptions/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    mail(&sb, "nobody is told");
    assert!(bodies(&got, 1).await.is_empty());
}

#[tokio::test]
async fn every_nth_notification_comes_twice_and_lost_ones_never_come() {
    let sb = start_users();
    sb.set_notice_settings(NoticeSettings {
        duplicate_every: 2,
        delay: Duration::from_millis(50),
        ..Default::default()
    });
    let (_, got, _) = subscribe(&sb).await;
    let first = mail(&sb, "one");
    assert_eq!(bodies(&got, 1).await.len(), 1);
    let second = mail(&sb, "two");
    let all = bodies(&got, 3).await;
    assert_eq!(all.len(), 3, "the second notification came twice: {all:?}");
    assert_eq!(all[1], all[2]);
    assert_eq!(all[0]["value"][0]["resourceData"]["id"], json!(first));
    assert_eq!(all[1]["value"][0]["resourceData"]["id"], json!(second));
    sb.lose_notifications(1);
    mail(&sb, "lost");
    assert_eq!(
        bodies(&got, 4).await.len(),
        3,
        "a lost notification never comes"
    );
    let fourth = mail(&sb, "found");
    let all = bodies(&got, 4).await;
    assert_eq!(all[3]["value"][0]["resourceData"]["id"], json!(fourth));
    assert!(sb.notifications_delivered() >= 4);
}

#[tokio::test]
async fn a_lifetime_cap_makes_subscriptions_expire_and_expired_ones_are_gone() {
    let sb = start_users();
    sb.set_notice_settings(NoticeSettings {
        max_lifetime: Duration::from_secs(1),
        ..Default::default()
    });
    let c = Client::new(&sb);
    let (id, got, _) = subscribe(&sb).await;
    let sub = sb.subscription_json(&id).unwrap();
    let granted =
        chrono::DateTime::parse_from_rfc3339(sub["expirationDateTime"].as_str().unwrap()).unwrap();
    assert!(
        granted < chrono::Utc::now() + chrono::Duration::seconds(2),
        "capped: {sub}"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    mail(&sb, "after expiry");
    assert!(bodies(&got, 1).await.is_empty());
    assert!(sb.subscription_ids(GRACE).is_empty());
    let (s, _) = c
        .call(
            "grace",
            reqwest::Method::GET,
            &format!("/subscriptions/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    // Graph's own limit stays: more than 10,080 minutes is refused.
    let (url, _) = receiver(true).await;
    let far = (chrono::Utc::now() + chrono::Duration::minutes(10_081)).to_rfc3339();
    let (s, _) = c
        .post(
            "grace",
            "/subscriptions",
            json!({"changeType": "created", "notificationUrl": url,
            "resource": "me/messages", "expirationDateTime": far}),
        )
        .await;
    assert_eq!(s, 400);
}
