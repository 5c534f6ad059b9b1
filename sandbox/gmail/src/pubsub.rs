//! Google Cloud Pub/Sub push, as Gmail's `users.watch` uses it (issue 20).
//!
//! A test or the server adds a push subscription ([`PushSubscription`]: topic, endpoint,
//! audience, service account). While a user's watch names that topic, every growth of the
//! user's history id is published as Pub/Sub push does: `POST <endpoint>` with
//! `{"message": {"data": base64({"emailAddress", "historyId"}), "messageId", "publishTime",
//! "attributes": {}}, "subscription": "projects/P/subscriptions/S"}` and
//! `Authorization: Bearer <JWT>`, an OpenID Connect token signed RS256 by the emulated Google
//! issuer (`iss` `https://accounts.google.com`, `aud` the audience, `email` the service account,
//! `email_verified`, `iat`, `exp` one hour later, `sub`, `azp`), whose public key the emulator
//! publishes as a JWKS at `/oauth2/v3/certs` (Google's path). Delivery is at least once: an
//! answer other than 2xx is retried with backoff, a subscription can add a delay and send every
//! n-th message twice, and changes close together are coalesced into one notification (Gmail
//! sends at most about one per second per user). Sources: docs/provider-behaviour.md.
//!
//! The issuer's key is a fixed test key (`keys/pubsub-issuer.pem`): it signs nothing outside
//! the emulator's own world.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use crate::{lock, Inner};

/// The emulated issuer (Google's accounts issuer).
pub const ISSUER: &str = "https://accounts.google.com";
/// The key id of the issuer's key in the JWKS.
pub const KEY_ID: &str = "sandbox-pubsub-1";
const PRIVATE_KEY: &[u8] = include_bytes!("../keys/pubsub-issuer.pem");
/// The public modulus of that key (base64url) and its exponent.
const MODULUS: &str = "nMFbu0HhHnP6_a3on6W_l3S75OHek31DacbO6ih-Nt1RJeEeGfUbWXLn_PZ0ZCxdpZXKDCI-NRVd6T88_ewzfM5QC1r7V2Wwk7ugpWhhBBcg2ge5oJU99EMHe8S5O2JWbLlF2tMZvqlSxdCt7eZw1apBqnyUmP7prO7ZOWpUwk2iLxDOFZ9DyoFlFqcxYUKl9STVIFoe6AaC6cPbBPPF8PTz_ke_E-cwcdPObXFD5PFEsC1hS4YNm7AdwY8i4fu0RDCyP5GFKcdyNEPh1PooNmIFhz2Y6qspRzwstlqMBLpkRhG4_tSiFU9zakp0NgQJyA63KyQsxcSKwSdJMQva4w";
const EXPONENT: &str = "AQAB";

/// How often the publisher looks at the watched mailboxes.
const SCAN: Duration = Duration::from_millis(100);
/// Waits before the 2nd, 3rd, ... push of one message (Pub/Sub's exponential backoff, shortened).
const RETRY: &[u64] = &[100, 250, 500, 1000, 2000, 5000];

/// A Pub/Sub push subscription on a topic.
#[derive(Debug, Clone)]
pub struct PushSubscription {
    /// `projects/P/topics/T`: the topic `users.watch` names.
    pub topic: String,
    /// `projects/P/subscriptions/S`.
    pub subscription: String,
    /// Where the messages are POSTed.
    pub endpoint: String,
    /// The token's `aud` (Pub/Sub's default: the endpoint URL).
    pub audience: Option<String>,
    /// The token's `email`: the subscription's service account.
    pub service_account: String,
    /// Added before each push.
    pub delay: Duration,
    /// Every n-th message is pushed twice (0: never).
    pub duplicate_every: u32,
}

/// What the publisher keeps.
#[derive(Default)]
pub(crate) struct PubSub {
    subscriptions: Vec<PushSubscription>,
    /// Per user: the history id last published.
    published: HashMap<String, u64>,
    started: bool,
    messages: u64,
    /// Pushes answered 2xx.
    pub delivered: u64,
}

/// The JWKS route.
pub(crate) fn routes() -> Router {
    Router::new().route("/oauth2/v3/certs", get(|| async { Json(jwks()) }))
}

/// The issuer's public keys, as Google publishes them.
pub fn jwks() -> Value {
    json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KEY_ID,
        "n": MODULUS, "e": EXPONENT}]})
}

/// A token of the emulated issuer with these claims (a test hook: valid, expired or for
/// another audience, as asked).
pub fn sign(claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(PRIVATE_KEY).expect("the issuer key parses");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    jsonwebtoken::encode(&header, claims, &key).expect("signing works")
}

/// The claims Pub/Sub puts in a push token.
pub fn claims(audience: &str, service_account: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": ISSUER, "aud": audience, "azp": "112233445566778899000",
        "sub": "112233445566778899000", "email": service_account, "email_verified": true,
        "iat": now, "exp": now + 3600})
}

impl PubSub {
    pub fn add(&mut self, sub: PushSubscription) -> bool {
        self.subscriptions.push(sub);
        !std::mem::replace(&mut self.started, true)
    }
}

/// Starts the publisher when the first subscription is added.
pub(crate) fn add_subscription(inner: &Arc<Inner>, sub: PushSubscription) {
    if lock(&inner.pubsub).add(sub) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: Pub/Sub push does not run");
            return;
        };
        let weak = Arc::downgrade(inner);
        rt.spawn(async move {
            loop {
                tokio::time::sleep(SCAN).await;
                let Some(inner) = weak.upgrade() else { return };
                publish_due(&inner);
            }
        });
    }
}

/// Publishes a notification for every watched user whose history moved.
fn publish_due(inner: &Arc<Inner>) {
    let watched: Vec<(String, String, u64, u64)> = {
        let store = lock(&inner.store);
        store
            .users
            .values()
            .filter(|u| {
                u.watch_expiration
                    .is_some_and(|e| e > chrono::Utc::now().timestamp_millis())
            })
            .filter_map(|u| {
                let topic = u.watch_topic.clone()?;
                Some((u.email.clone(), topic, u.watch_history_id, u.history_id))
            })
            .collect()
    };
    let mut ps = lock(&inner.pubsub);
    for (email, topic, since, history_id) in watched {
        let last = *ps.published.entry(email.clone()).or_insert(since);
        let last = last.max(since);
        if history_id <= last {
            continue;
        }
        ps.published.insert(email.clone(), history_id);
        let subs: Vec<PushSubscription> = ps
            .subscriptions
            .iter()
            .filter(|s| s.topic == topic)
            .cloned()
            .collect();
        for sub in subs {
            ps.messages += 1;
            let n = ps.messages;
            let copies =
                if sub.duplicate_every > 0 && n.is_multiple_of(u64::from(sub.duplicate_every)) {
                    2
                } else {
                    1
                };
            let data = json!({"emailAddress": email, "historyId": history_id});
            for _ in 0..copies {
                let inner = inner.clone();
                let (sub, data) = (sub.clone(), data.clone());
                tokio::spawn(async move { push(&inner, &sub, n, &data).await });
            }
        }
    }
}

/// Pushes one message until the endpoint answers 2xx (or the retries run out).
async fn push(inner: &Arc<Inner>, sub: &PushSubscription, n: u64, data: &Value) {
    tokio::time::sleep(sub.delay).await;
    let body = json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(data.to_string()),
            "messageId": n.to_string(),
            "message_id": n.to_string(),
            "publishTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "attributes": {},
        },
        "subscription": sub.subscription,
    });
    let audience = sub.audience.clone().unwrap_or_else(|| sub.endpoint.clone());
    for (attempt, wait) in std::iter::once(&0).chain(RETRY.iter()).enumerate() {
        tokio::time::sleep(Duration::from_millis(*wait)).await;
        let token = sign(&claims(&audience, &sub.service_account));
        let sent = inner
            .kit
            .http
            .post(&sub.endpoint)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                lock(&inner.pubsub).delivered += 1;
                return;
            }
            Ok(r) => tracing::debug!(
                status = r.status().as_u16(),
                attempt,
                "push refused; Pub/Sub retries"
            ),
            Err(_) => tracing::debug!(attempt, "push failed; Pub/Sub retries"),
        }
    }
}

/// Kept for the subscription list's `Mutex` type in `Inner`.
pub(crate) type Shared = Mutex<PubSub>;
