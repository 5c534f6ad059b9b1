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
//! auto-reply per sender and period, in thread); a per-user quota of 15,000 units per
//! minute at Google's unit costs. Messages are stored as raw RFC 822 bytes and parsed with
//! mail-parser, so `raw` and `full` agree.
//!
//! Not emulated: Pub/Sub push after `watch`, spam classification, the
//! subject rule of Gmail's threading (threads join by In-Reply-To / References only), and the
//! settings resources other than sendAs, filters and vacation.
//!
//! Test hooks on [`GmailSandbox`]: stats, quota limit/window and 403 mode, latency, faults
//! ([`Fault`]: delay, 5xx, dropped connection, response lost after the call ran; matched against
//! outer HTTP requests), mailbox snapshots, direct inserts, history expiry, token expiry.
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
mod config;
mod error;
mod faults;
mod fields;
mod introspect;
mod mime;
mod multipart;
mod request_check;
mod router;
mod search;
mod seed;
mod server;
mod store;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

pub use auth::expand_scope;
pub use behaviour::Behaviour;
pub use config::{MailboxSnapshot, MessageSnapshot, SandboxConfig, Seed, Stats, TokenRule};
pub use faults::{Fault, FaultKind};

use auth::{Auth, Grant, Quota};
use store::Store;

pub(crate) struct Inner {
    pub store: Mutex<Store>,
    pub auth: Mutex<Auth>,
    pub quota: Mutex<Quota>,
    pub stats: Mutex<Stats>,
    pub faults: Mutex<Vec<Fault>>,
    pub latency: Mutex<Option<Duration>>,
    pub uploads: Mutex<HashMap<String, server::PendingUpload>>,
    pub introspection_url: Option<String>,
    pub introspection_client: Option<introspect::ClientAuth>,
    pub introspection_audience: Option<String>,
    pub http: reqwest::Client,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running emulator. Dropping it stops the server.
pub struct GmailSandbox {
    inner: Arc<Inner>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for GmailSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GmailSandbox")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for GmailSandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The default user of every emulator.
pub const DEFAULT_USER: &str = "ada@example.com";

impl GmailSandbox {
    /// Binds `cfg.bind` and serves on a Tokio task. Must be called inside a Tokio runtime.
    pub fn start(cfg: SandboxConfig) -> std::io::Result<GmailSandbox> {
        let mut store = Store::default();
        store.behaviour = cfg.behaviour;
        seed::seed(&mut store, &cfg.seed);
        let mut rules = HashMap::new();
        for r in &cfg.tokens {
            store.ensure_user(&r.user);
            rules.insert(
                r.token.clone(),
                Grant {
                    user: r.user.to_ascii_lowercase(),
                    scopes: Some(r.scopes.clone()),
                },
            );
        }
        let inner = Arc::new(Inner {
            store: Mutex::new(store),
            auth: Mutex::new({
                let mut a = Auth::new(DEFAULT_USER, rules, cfg.rotate_refresh_tokens);
                a.introspection = cfg.introspection_url.is_some();
                a
            }),
            quota: Mutex::new(Quota::new(cfg.quotas)),
            stats: Mutex::new(Stats::default()),
            faults: Mutex::new(Vec::new()),
            latency: Mutex::new(cfg.latency),
            uploads: Mutex::new(HashMap::new()),
            introspection_url: cfg.introspection_url.clone(),
            introspection_client: introspect::ClientAuth::from_config(
                cfg.introspection_client_id.as_deref(),
                cfg.introspection_client_secret.as_ref(),
            ),
            introspection_audience: cfg.introspection_audience.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(std::io::Error::other)?,
        });
        let listener = std::net::TcpListener::bind(cfg.bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let task = tokio::spawn(server::serve(listener, inner.clone(), addr));
        Ok(GmailSandbox { inner, addr, task })
    }

    /// `http://127.0.0.1:PORT` (the API lives under `/gmail/v1/...`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    /// Makes the consent screen answer `error=access_denied` (or approve again).
    pub fn set_consent_denied(&self, denied: bool) {
        lock(&self.inner.auth).deny_consent = denied;
    }

    /// A refresh token the token endpoint accepts, for `user` with `scopes` (short or full).
    pub fn issue_refresh_token(&self, user: &str, scopes: &[&str]) -> String {
        lock(&self.inner.store).ensure_user(user);
        lock(&self.inner.auth).issue_refresh(user, scopes.iter().map(|s| expand_scope(s)).collect())
    }

    /// Revokes a refresh token (the token endpoint then answers `invalid_grant`).
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        lock(&self.inner.auth).revoke_refresh(token)
    }

    /// Lifetime of access tokens issued from now on (default 3599 s, Google's `expires_in`).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        lock(&self.inner.auth).access_ttl = ttl;
    }

    /// Invalidates every access token issued so far (next use answers 401).
    pub fn expire_access_tokens(&self) {
        lock(&self.inner.auth).expire_access_tokens();
    }

    pub fn stats(&self) -> Stats {
        lock(&self.inner.stats).clone()
    }

    pub fn reset_stats(&self) {
        *lock(&self.inner.stats) = Stats::default();
    }

    /// Switches the per-user quota on or off (and forgets usage).
    pub fn set_quotas(&self, on: bool) {
        let mut q = lock(&self.inner.quota);
        q.enabled = on;
        q.reset();
    }

    /// Test hook: a quota of `units` per `window` (default 15,000 per 60 s); forgets usage.
    pub fn set_quota_limit(&self, units: u32, window: Duration) {
        let mut q = lock(&self.inner.quota);
        q.limit = units;
        q.window = window;
        q.reset();
    }

    /// Answer quota excess with 403 `userRateLimitExceeded` instead of 429.
    pub fn set_quota_forbidden(&self, forbidden: bool) {
        lock(&self.inner.quota).forbidden = forbidden;
    }

    /// Delay added before every answer (None: none).
    pub fn set_latency(&self, latency: Option<Duration>) {
        *lock(&self.inner.latency) = latency;
    }

    /// Adds a fault; faults match by HTTP method and path substring, in order.
    pub fn inject_fault(&self, fault: Fault) {
        lock(&self.inner.faults).push(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// The provider behaviours in force.
    pub fn behaviour(&self) -> Behaviour {
        lock(&self.inner.store).behaviour
    }

    /// Switches provider behaviours (see [`Behaviour`]) for requests from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        lock(&self.inner.store).behaviour = behaviour;
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
