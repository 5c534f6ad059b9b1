//! An in-memory emulator of the Gmail API over real HTTP, for tests, demos and benchmarks;
//! Google's own client library runs against it unchanged.
//!
//! Served paths (root = [`GmailSandbox::base_url`]):
//! - `/gmail/v1/users/{me|email}/...`: profile, messages (list/get in every format, attachments,
//!   send, insert, import, modify, trash, untrash, delete, batchModify, batchDelete), threads,
//!   labels, drafts, history, settings (sendAs, filters, vacation), watch, stop — 42 methods;
//! - `/upload/gmail/v1/...` with `uploadType=multipart|media|resumable` (35 MiB for send and
//!   drafts, 150 MiB for insert and import);
//! - `/batch/gmail/v1` and `/batch` (multipart/mixed, at most 100 parts);
//! - `/calendar/v3/...`: Google Calendar v3 for the same users and tokens (calendarList,
//!   events with recurring instances, attendees' answers, sync tokens, freeBusy; see
//!   `calendar`);
//! - `/token` (refresh_token and authorization_code grants) and the consent screen
//!   `/o/oauth2/v2/auth`.
//!
//! Behaviour: several users; 16-hex ids; a historyId that grows with every change, with history
//! records; threads joined by In-Reply-To / References; label counts; a search subset
//! (`from: to: subject: label: in: is: has:attachment filename: after: before: newer_than:
//! older_than: rfc822msgid: list:`, phrases, `-`, `OR`, `{}`); `fields=` partial responses;
//! Google's error bodies; per-method scopes from the discovery document; request bodies checked
//! against the discovery request schemas (unknown names refused, proto names accepted); the
//! user's filters applied to delivered and imported mail; the vacation responder (one
//! auto-reply per sender and period, in thread); Google's limits (see [`Behaviour`]): the 2026
//! per-user quota of 6,000 units per minute (or the older 15,000), at most
//! [`CONCURRENT_REQUESTS`] requests in flight per user with batch parts counted, daily send
//! limits, a 1 MiB cap on plain request bodies, throttles without `Retry-After`. Messages are stored as raw RFC 822 bytes and parsed with
//! mail-parser, so `raw` and `full` agree.
//!
//! Pub/Sub push after `watch` ([`pubsub`]: a push subscription, OIDC tokens of an emulated
//! Google issuer whose keys are served at `/oauth2/v3/certs`, delays and duplicates).
//!
//! Not emulated: spam classification, the
//! subject rule of Gmail's threading (threads join by In-Reply-To / References only), and the
//! settings resources other than sendAs, filters and vacation.
//!
//! Test hooks on [`GmailSandbox`]: stats, quota limit/window and 403 mode, latency, faults
//! ([`Fault`]: delay, 5xx, dropped connection, response lost after the call ran; matched against
//! outer HTTP requests), mailbox snapshots, direct inserts, history expiry, token expiry. The
//! HTTP pipeline, the token authority, faults and latency are `sandbox-kit`'s; this crate holds
//! Gmail's API and Google's facts ([`profile`]), and answers the kit's [`Emulator`] controls.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sandbox_gmail::{GmailSandbox, SandboxConfig};
//! let sb = GmailSandbox::start(SandboxConfig::default())?;
//! let url = format!("{}/gmail/v1/users/me/profile", sb.base_url());
//! # let _ = url; Ok(()) }
//! ```

mod api;
mod auth;
mod batch;
mod behaviour;
mod calendar;
mod config;
mod daily;
mod error;
mod fields;
mod mime;
mod multipart;
mod profile;
pub mod pubsub;
mod request_check;
mod router;
mod search;
mod seed;
mod server;
mod store;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use sandbox_kit::{Directory, Kit, Server};
use serde_json::{json, Value};

pub use auth::expand_scope;
pub use behaviour::{
    Behaviour, QuotaProfile, CONSUMER_DAILY_SENDS, JSON_BODY_LIMIT, WORKSPACE_DAILY_SENDS,
};
pub use config::{MailboxSnapshot, MessageSnapshot, Stats};
pub use profile::CONCURRENT_REQUESTS;
pub use sandbox_kit::{Emulator, Fault, FaultKind, SandboxConfig, Seed, TokenRule, DEFAULT_USER};

use store::Store;

pub(crate) struct Inner {
    pub kit: Arc<Kit>,
    pub store: Arc<Mutex<Store>>,
    /// Quota excess answers 403 `userRateLimitExceeded` instead of 429.
    pub quota_forbidden: AtomicBool,
    pub stats: Mutex<Stats>,
    pub uploads: Mutex<HashMap<String, server::PendingUpload>>,
    /// Pub/Sub push after `users.watch`.
    pub pubsub: pubsub::Shared,
    pub daily_sends: daily::DailySends,
}

/// The `format=full` payload tree the emulator renders for the raw message `raw` stored under
/// id `msg_id` (for tests that feed a decoder what `messages.get` would return).
pub fn render_full_payload(msg_id: &str, raw: &[u8]) -> Value {
    mime::parse(msg_id, raw).payload
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The emulated users, for the kit's token authority.
struct Users(Arc<Mutex<Store>>);

impl Directory for Users {
    fn resolve(&self, user: &str) -> Option<String> {
        let key = user.to_ascii_lowercase();
        lock(&self.0).users.contains_key(&key).then_some(key)
    }

    fn ensure(&self, user: &str) -> String {
        lock(&self.0).ensure_user(user).email.clone()
    }
}

/// A running emulator. Dropping it stops the server.
pub struct GmailSandbox {
    inner: Arc<Inner>,
    server: Server,
}

impl fmt::Debug for GmailSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GmailSandbox")
            .field("addr", &self.server.addr())
            .finish()
    }
}

impl GmailSandbox {
    /// Binds `cfg.bind` and serves on a Tokio task. Must be called inside a Tokio runtime.
    pub fn start(cfg: SandboxConfig) -> std::io::Result<GmailSandbox> {
        let mut store = Store::default();
        seed::seed(&mut store, &cfg.seed);
        let store = Arc::new(Mutex::new(store));
        let kit = Kit::new(&profile::GOOGLE, &cfg, Arc::new(Users(store.clone())))?;
        let inner = Arc::new(Inner {
            kit: kit.clone(),
            store,
            quota_forbidden: AtomicBool::new(false),
            stats: Mutex::new(Stats::default()),
            uploads: Mutex::new(HashMap::new()),
            pubsub: Default::default(),
            daily_sends: daily::DailySends::default(),
        });
        let (listener, _) = Server::bind(cfg.bind)?;
        let app = sandbox_kit::oauth::routes(
            kit.clone(),
            "/token",
            &["/o/oauth2/v2/auth", "/o/oauth2/auth"],
        )
        .merge(pubsub::routes())
        .merge(server::router(inner.clone()));
        let server = Server::spawn(listener, kit, app);
        Ok(GmailSandbox { inner, server })
    }

    /// `http://127.0.0.1:PORT` (the API lives under `/gmail/v1/...`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `{base}/token`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// `{base}/o/oauth2/v2/auth`: Google's consent screen, approved at once (302 to the
    /// `redirect_uri` with `code` and `state`); `login_hint` picks an emulated user, else
    /// the default user. The code is exchanged at [`GmailSandbox::token_url`]
    /// (`grant_type=authorization_code`, PKCE S256 checked, a refresh token with
    /// `access_type=offline`).
    pub fn authorize_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base_url())
    }

    /// Expires every Google Calendar sync token issued so far: the next `events.list` with one
    /// answers 410 `fullSyncRequired`, as Google does when a token has aged out.
    pub fn expire_calendar_sync_tokens(&self) {
        let mut store = lock(&self.inner.store);
        store.calendar.valid_from = store.calendar.clock + 1;
    }

    /// Sets `user`'s calendar time zone (IANA name; default UTC).
    pub fn set_calendar_time_zone(&self, user: &str, zone: &str) {
        let mut store = lock(&self.inner.store);
        store
            .calendar
            .zones
            .insert(user.to_ascii_lowercase(), zone.to_string());
    }

    /// Makes the consent screen answer `error=access_denied` (or approve again).
    pub fn set_consent_denied(&self, denied: bool) {
        self.inner.kit.set_consent_denied(denied);
    }

    /// A refresh token the token endpoint accepts, for `user` with `scopes` (short or full).
    pub fn issue_refresh_token(&self, user: &str, scopes: &[&str]) -> String {
        self.inner.kit.issue_refresh_token(user, scopes)
    }

    /// Revokes a refresh token (the token endpoint then answers `invalid_grant`).
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.inner.kit.revoke_refresh_token(token)
    }

    /// Lifetime of access tokens issued from now on (default 3599 s, Google's `expires_in`).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.inner.kit.set_access_token_ttl(ttl);
    }

    /// Invalidates every access token issued so far (next use answers 401).
    pub fn expire_access_tokens(&self) {
        self.inner.kit.expire_access_tokens();
    }

    pub fn stats(&self) -> Stats {
        let counts = self.inner.kit.counts();
        Stats {
            http_requests: counts.http_requests,
            token_requests: counts.token_requests,
            faults_triggered: counts.faults_triggered,
            ..lock(&self.inner.stats).clone()
        }
    }

    pub fn reset_stats(&self) {
        *lock(&self.inner.stats) = Stats::default();
        self.inner.kit.reset_counts();
    }

    /// Switches the per-user quota on or off (and forgets usage).
    pub fn set_quotas(&self, on: bool) {
        self.inner.kit.set_quotas(on);
    }

    /// Test hook: a quota of `units` per `window` (default 6,000 per 60 s, the 2026 quota);
    /// forgets usage.
    pub fn set_quota_limit(&self, units: u32, window: Duration) {
        self.inner.kit.set_quota_limit(units, window);
    }

    /// Answer quota excess with 403 `userRateLimitExceeded` instead of 429.
    pub fn set_quota_forbidden(&self, forbidden: bool) {
        self.inner
            .quota_forbidden
            .store(forbidden, Ordering::SeqCst);
    }

    /// The next `n` API calls answer 429 `rateLimitExceeded` with `Retry-After:
    /// retry_after_secs`, quotas on or off.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        self.inner.kit.throttle_next(n, retry_after_secs);
    }

    /// Delay added before every answer (None: none).
    pub fn set_latency(&self, latency: Option<Duration>) {
        self.inner.kit.set_latency(latency);
    }

    /// Adds a fault; faults match by HTTP method and path substring, in order.
    pub fn inject_fault(&self, fault: Fault) {
        self.inner.kit.inject_fault(fault);
    }

    pub fn clear_faults(&self) {
        self.inner.kit.clear_faults();
    }

    /// The provider behaviours in force.
    pub fn behaviour(&self) -> Behaviour {
        lock(&self.inner.store).behaviour
    }

    /// Switches provider behaviours (see [`Behaviour`]) for requests from now on. A new quota
    /// profile sets its units per minute (and forgets usage).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let old = std::mem::replace(&mut lock(&self.inner.store).behaviour, behaviour);
        if old.quota != behaviour.quota {
            self.inner
                .kit
                .set_quota_limit(behaviour.quota.units_per_minute(), Duration::from_secs(60));
        }
    }

    /// Users known to the emulator.
    pub fn users(&self) -> Vec<String> {
        lock(&self.inner.store).users.keys().cloned().collect()
    }

    /// The user's mailbox (messages newest first), or None for an unknown user.
    pub fn mailbox(&self, user: &str) -> Option<MailboxSnapshot> {
        let store = lock(&self.inner.store);
        let u = store.user(user).ok()?;
        Some(MailboxSnapshot {
            email: u.email.clone(),
            messages: u
                .newest_first()
                .map(|m| MessageSnapshot {
                    id: m.id.clone(),
                    thread_id: m.thread_id.clone(),
                    label_ids: m.labels.clone(),
                    raw: m.raw.clone(),
                    internal_date: m.internal_date,
                    history_id: m.history_id,
                })
                .collect(),
            drafts: u.drafts.clone(),
            labels: u
                .labels
                .values()
                .map(|l| (l.id.clone(), l.name.clone()))
                .collect(),
            history_id: u.history_id,
        })
    }

    /// Stores a raw RFC 822 message for `user` (creating the user), recording history like
    /// messages.insert. Returns the message id.
    pub fn insert_message(&self, user: &str, raw: &[u8], label_ids: &[&str]) -> String {
        let labels: Vec<String> = label_ids.iter().map(|s| s.to_string()).collect();
        lock(&self.inner.store).add_raw(
            user,
            Bytes::copy_from_slice(raw),
            &labels,
            None,
            None,
            true,
        )
    }

    /// Adds a Pub/Sub push subscription: users whose watch names its topic get their changes
    /// pushed to its endpoint (see [`pubsub`]).
    pub fn add_push_subscription(&self, sub: pubsub::PushSubscription) {
        pubsub::add_subscription(&self.inner, sub);
    }

    /// Where the emulated Google issuer publishes its keys (Google's is
    /// `https://www.googleapis.com/oauth2/v3/certs`).
    pub fn jwks_url(&self) -> String {
        format!("{}/oauth2/v3/certs", self.base_url())
    }

    /// Pushes answered 2xx so far.
    pub fn pushes_delivered(&self) -> u64 {
        lock(&self.inner.pubsub).delivered
    }

    /// The user's current historyId (0 for an unknown user).
    pub fn history_id(&self, user: &str) -> u64 {
        lock(&self.inner.store)
            .user(user)
            .map(|u| u.history_id)
            .unwrap_or(0)
    }

    /// Drops history before `history_id`: history.list with an older start id answers 404.
    pub fn expire_history_before(&self, user: &str, history_id: u64) {
        let mut store = lock(&self.inner.store);
        if let Ok(u) = store.user_mut(user) {
            u.history_floor = history_id;
            u.history.retain(|r| r.id >= history_id);
        }
    }
}

impl Emulator for GmailSandbox {
    fn kit(&self) -> &Kit {
        &self.inner.kit
    }

    fn base_url(&self) -> String {
        GmailSandbox::base_url(self)
    }

    fn token_url(&self) -> String {
        GmailSandbox::token_url(self)
    }

    fn authorize_url(&self) -> String {
        GmailSandbox::authorize_url(self)
    }

    fn stats_json(&self) -> Value {
        let st = self.stats();
        json!({
            "http_requests": st.http_requests,
            "api_calls": st.api_calls,
            "by_method": st.by_method,
            "batch_requests": st.batch_requests,
            "batch_parts": st.batch_parts,
            "token_requests": st.token_requests,
            "upload_requests": st.upload_requests,
            "rate_limited": st.rate_limited,
            "faults_triggered": st.faults_triggered,
        })
    }

    fn reset_stats(&self) {
        GmailSandbox::reset_stats(self);
    }

    /// `messages` newest first with `id`, `thread_id`, `label_ids`, `raw`; `drafts`; `labels`;
    /// `history_id` (the folder is Gmail's labels, so it is not used).
    fn mailbox_json(&self, user: &str, _folder: Option<&str>) -> Option<Value> {
        let m = self.mailbox(user)?;
        let messages: Vec<Value> = m
            .messages
            .iter()
            .map(|msg| {
                json!({
                    "id": msg.id,
                    "thread_id": msg.thread_id,
                    "label_ids": msg.label_ids,
                    "internal_date": msg.internal_date,
                    "history_id": msg.history_id,
                    "raw": String::from_utf8_lossy(&msg.raw),
                })
            })
            .collect();
        Some(json!({
            "email": m.email,
            "messages": messages,
            "drafts": m.drafts,
            "labels": m.labels,
            "history_id": m.history_id,
        }))
    }

    /// History before the current history id is dropped: a sync from an older id answers 404;
    /// and every Google Calendar sync token answers 410 (tokens are not per user).
    fn expire_sync_tokens(&self, user: &str) {
        self.expire_history_before(user, self.history_id(user));
        self.expire_calendar_sync_tokens();
    }

    /// A Pub/Sub push subscription on `projects/sandbox/topics/gmail` to `endpoint` (audience:
    /// the endpoint; service account `gmail-push@sandbox.iam.gserviceaccount.com`).
    fn enable_push(&self, endpoint: &str) -> Option<sandbox_kit::PushSetup> {
        let sub = pubsub::PushSubscription {
            topic: "projects/sandbox/topics/gmail".into(),
            subscription: "projects/sandbox/subscriptions/gmail-push".into(),
            endpoint: endpoint.into(),
            audience: None,
            service_account: "gmail-push@sandbox.iam.gserviceaccount.com".into(),
            delay: Duration::ZERO,
            duplicate_every: 0,
        };
        let setup = sandbox_kit::PushSetup {
            topic: Some(sub.topic.clone()),
            audience: Some(endpoint.into()),
            service_account: Some(sub.service_account.clone()),
            jwks_url: Some(self.jwks_url()),
            notification_url: None,
        };
        self.add_push_subscription(sub);
        Some(setup)
    }
}
