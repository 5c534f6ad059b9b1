//! How the emulator POSTs Graph's notifications (issue 20): change notifications of a
//! subscription and lifecycle notifications, with the imperfections of the real service that a
//! receiver must survive, and the test controls over them.
//!
//! - **At least once.** An answer other than 2xx (or none within 3 s) is retried with backoff;
//!   every `duplicate_every`-th notification is POSTed twice (on by default: every 5th).
//! - **Late.** Each POST waits `delay` first (none by default).
//! - **Lost.** [`crate::OutlookSandbox::lose_notifications`] drops the next n notifications, as
//!   when Graph cannot deliver them; a `missed` lifecycle notification then tells the receiver
//!   to catch up through delta.
//! - **Lifecycle** ([`LifecycleEvent`], sent to the subscription's `lifecycleNotificationUrl`):
//!   `reauthorizationRequired` holds change notifications back until the subscription is renewed
//!   (`PATCH`) or reauthorized; `subscriptionRemoved` deletes the subscription; `missed` only
//!   tells.
//!
//! Sources: docs/provider-behaviour.md.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::model::rfc3339;
use super::OutlookSandbox;

/// Graph wants an answer within 3 seconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// Waits before the 2nd, 3rd, ... POST of a notification (Graph's backoff, shortened).
const RETRY: &[u64] = &[200, 500, 1000, 2000, 5000];
/// The tenant every emulated user lives in.
pub const TENANT_ID: &str = "00000000-0000-0000-0000-000000000001";

/// How notifications are delivered (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeSettings {
    /// Added before each POST.
    pub delay: Duration,
    /// Every n-th notification is POSTed twice (0: never).
    pub duplicate_every: u32,
    /// The longest lifetime a subscription is granted. Graph grants what is asked up to 10,080
    /// minutes for messages (more is a 400); a shorter cap here is a test control that makes
    /// subscriptions expire soon, so that renewals can be seen.
    pub max_lifetime: Duration,
}

/// Graph's limit for message subscriptions: 10,080 minutes (under 7 days).
pub const MAX_LIFETIME: Duration = Duration::from_secs(10_080 * 60);

impl Default for NoticeSettings {
    fn default() -> NoticeSettings {
        NoticeSettings {
            delay: Duration::ZERO,
            duplicate_every: 5,
            max_lifetime: MAX_LIFETIME,
        }
    }
}

/// A lifecycle notification's `lifecycleEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleEvent {
    ReauthorizationRequired,
    SubscriptionRemoved,
    Missed,
}

impl LifecycleEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEvent::ReauthorizationRequired => "reauthorizationRequired",
            LifecycleEvent::SubscriptionRemoved => "subscriptionRemoved",
            LifecycleEvent::Missed => "missed",
        }
    }
}

/// The delivery state of one emulator.
#[derive(Debug, Default)]
pub struct Notices {
    settings: Mutex<NoticeSettings>,
    /// Notifications sent so far (numbers them for duplicates).
    sent: AtomicU64,
    /// Notifications still to drop.
    lose: AtomicU32,
    /// POSTs answered 2xx (duplicates and lifecycle notifications included).
    delivered: Arc<AtomicU64>,
}

impl Notices {
    pub fn settings(&self) -> NoticeSettings {
        *self.settings.lock().expect("notice settings")
    }

    /// Whether the next notification is to be dropped (and counts it off).
    pub fn lost(&self) -> bool {
        self.lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// POSTs `body` to `url` (in the background), twice when it is the n-th of a duplicate.
    pub fn send(&self, http: &reqwest::Client, url: &str, body: Value, may_duplicate: bool) {
        let s = self.settings();
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let copies = if may_duplicate
            && s.duplicate_every > 0
            && n.is_multiple_of(u64::from(s.duplicate_every))
        {
            2
        } else {
            1
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for _ in 0..copies {
            let (http, url, body) = (http.clone(), url.to_string(), body.clone());
            let delivered = self.delivered.clone();
            rt.spawn(async move {
                tokio::time::sleep(s.delay).await;
                if post(&http, &url, &body).await {
                    delivered.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    }
}

/// POSTs until a 2xx answer (or the retries run out).
async fn post(http: &reqwest::Client, url: &str, body: &Value) -> bool {
    for wait in std::iter::once(&0).chain(RETRY.iter()) {
        tokio::time::sleep(Duration::from_millis(*wait)).await;
        let sent = http
            .post(url)
            .json(body)
            .timeout(ANSWER_WITHIN)
            .send()
            .await;
        if sent.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
    }
    false
}

/// The test controls over notifications.
impl OutlookSandbox {
    pub fn notice_settings(&self) -> NoticeSettings {
        self.inner.notices.settings()
    }

    /// Delay, duplicates and the lifetime cap of subscriptions from now on.
    pub fn set_notice_settings(&self, settings: NoticeSettings) {
        *self.inner.notices.settings.lock().expect("notice settings") = settings;
    }

    /// The next `n` change notifications are never sent (Graph could not deliver them).
    pub fn lose_notifications(&self, n: u32) {
        self.inner.notices.lose.store(n, Ordering::SeqCst);
    }

    /// Notification POSTs answered 2xx so far.
    pub fn notifications_delivered(&self) -> u64 {
        self.inner.notices.delivered.load(Ordering::SeqCst)
    }

    /// Ids of `user`'s live subscriptions.
    pub fn subscription_ids(&self, user: &str) -> Vec<String> {
        let key = {
            let all = self.inner.mailboxes.lock().expect("mailboxes");
            super::state::resolve_user(&all, user)
        };
        let now = Utc::now();
        self.inner
            .subs
            .lock()
            .expect("subs")
            .values()
            .filter(|s| Some(&s.user) == key.as_ref() && s.expires > now)
            .map(|s| s.id.clone())
            .collect()
    }

    /// A subscription as Graph shows it (`GET /subscriptions/{id}`).
    pub fn subscription_json(&self, id: &str) -> Option<Value> {
        self.inner
            .subs
            .lock()
            .expect("subs")
            .get(id)
            .map(|s| s.to_json())
    }

    /// Sends a lifecycle notification for a subscription to its `lifecycleNotificationUrl`,
    /// with its effect (see the module doc). False when there is no such subscription or it
    /// has no lifecycle URL.
    pub fn lifecycle(&self, subscription_id: &str, event: LifecycleEvent) -> bool {
        let (url, body) = {
            let mut subs = self.inner.subs.lock().expect("subs");
            let Some(sub) = subs.get_mut(subscription_id) else {
                return false;
            };
            let Some(url) = sub.lifecycle_url.clone() else {
                return false;
            };
            let body = json!({"value": [{
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": rfc3339(sub.expires),
                "tenantId": TENANT_ID,
                "clientState": sub.client_state,
                "lifecycleEvent": event.as_str(),
            }]});
            match event {
                LifecycleEvent::ReauthorizationRequired => sub.needs_reauth = true,
                LifecycleEvent::SubscriptionRemoved => {
                    subs.remove(subscription_id);
                }
                LifecycleEvent::Missed => {}
            }
            (url, body)
        };
        self.inner
            .notices
            .send(&self.inner.kit.http, &url, body, false);
        true
    }
}
