//! A Microsoft Graph mail emulator: in memory, several users, real HTTP, the paths of
//! `https://graph.microsoft.com/v1.0` (`/v1.0/me/...` and `/v1.0/users/{id}/...`), a
//! Microsoft-shaped token endpoint, OData paging, delta, `$batch` and Outlook's throttling.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sandbox_outlook::{OutlookSandbox, SandboxConfig};
//! let sandbox = OutlookSandbox::start(SandboxConfig::default())?;
//! println!("Graph at {}", sandbox.base_url()); // http://127.0.0.1:PORT/v1.0
//! # Ok(()) }
//! ```

mod admin;
mod auth;
mod batch;
mod behaviour;
mod faults;
mod folders;
mod graph;
mod introspect;
mod messages;
mod model;
mod odata;
mod reply;
mod seed;
mod state;
mod subs;
mod uploads;
mod writes;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;

pub use behaviour::{Behaviour, DEFAULT_TRANSPORT_DELAY};
pub use faults::{Fault, FaultKind};
pub use model::WELL_KNOWN;
pub use seed::NewMessage;
pub use state::{LoggedRequest, Stats};

use state::Inner;

/// What the mailboxes hold at start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seed {
    /// ada@example.com and grace@example.com with folders, conversations, attachments,
    /// categories, html and text bodies and a mix of read and unread mail.
    #[default]
    Demo,
    /// `n` generated messages in ada's inbox (ada's folders and categories as in the demo;
    /// grace empty).
    Count(usize),
    /// Both users, well-known folders and categories only.
    Empty,
}

impl FromStr for Seed {
    type Err = String;
    /// `demo`, `empty` or a number.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "demo" => Ok(Seed::Demo),
            "empty" => Ok(Seed::Empty),
            n => n
                .parse()
                .map(Seed::Count)
                .map_err(|_| format!("seed must be demo, empty or a number, not {n:?}")),
        }
    }
}

/// A bearer token the emulator accepts, for one user with these scopes (short names like
/// `Mail.Read` or full `https://graph.microsoft.com/Mail.Read`; none or `*` = every scope).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRule {
    pub token: String,
    pub user: String,
    pub scopes: Vec<String>,
}

impl TokenRule {
    pub fn new(token: impl Into<String>, user: impl Into<String>, scopes: &[&str]) -> TokenRule {
        TokenRule {
            token: token.into(),
            user: user.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl fmt::Debug for TokenRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRule")
            .field("token", &"[redacted]")
            .field("user", &self.user)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl FromStr for TokenRule {
    type Err = String;
    /// The CLI form `TOKEN=user:scope,scope` (`TOKEN=user` gives every scope).
    fn from_str(spec: &str) -> Result<TokenRule, String> {
        let (token, rest) = spec
            .split_once('=')
            .ok_or("expected TOKEN=user:scope,scope")?;
        let (user, scopes) = rest.split_once(':').unwrap_or((rest, "*"));
        if token.is_empty() || !user.contains('@') {
            return Err("expected TOKEN=user@domain:scope,scope".into());
        }
        let scopes: Vec<&str> = scopes.split([',', ' ']).filter(|s| !s.is_empty()).collect();
        Ok(TokenRule::new(token, user, &scopes))
    }
}

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    pub seed: Seed,
    /// When empty, any non-empty bearer token is the default user (ada) with every scope.
    pub tokens: Vec<TokenRule>,
    /// Throttling (10,000 requests per 10 minutes and 4 concurrent requests per mailbox).
    pub quotas: bool,
    /// Every refresh returns a new refresh token and retires the old one (Microsoft's rule).
    pub rotate_refresh_tokens: bool,
    /// Added to every API request (not the token endpoint).
    pub latency: Option<Duration>,
    /// Where the emulator is as harsh as the real Graph (all on by default).
    pub behaviour: Behaviour,
    /// Trust an outside issuer: unknown bearer tokens are looked up here (RFC 7662); then
    /// unknown tokens are no longer the default user.
    pub introspection_url: Option<String>,
    /// The emulator's own client credentials at the issuer, sent with every introspection
    /// request as HTTP Basic (`client_secret_basic`, RFC 7662 section 2.1): issuers such as
    /// oidc-provider answer authenticated resource servers only. No secret: the id alone.
    pub introspection_client_id: Option<String>,
    pub introspection_client_secret: Option<connector_core::Secret>,
    /// When set, an active token is accepted only if its `aud` (a string or an array) names
    /// this audience (the API's resource indicator, e.g. `https://graph.microsoft.com/`).
    pub introspection_audience: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::Demo,
            tokens: Vec::new(),
            quotas: true,
            rotate_refresh_tokens: true,
            latency: None,
            behaviour: Behaviour::default(),
            introspection_url: None,
            introspection_client_id: None,
            introspection_client_secret: None,
            introspection_audience: None,
        }
    }
}

/// The default user of every emulator.
pub const DEFAULT_USER: &str = seed::ADA;

/// A running emulator. Dropping it stops the server.
pub struct OutlookSandbox {
    inner: Arc<Inner>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    transport: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for OutlookSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlookSandbox")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for OutlookSandbox {
    fn drop(&mut self) {
        self.task.abort();
        self.transport.abort();
    }
}

impl OutlookSandbox {
    /// Binds `cfg.bind` and serves on a Tokio task. Must be called inside a Tokio runtime.
    pub fn start(cfg: SandboxConfig) -> std::io::Result<OutlookSandbox> {
        let listener = std::net::TcpListener::bind(cfg.bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let inner = Arc::new(Inner::new(&cfg, format!("http://{addr}")));
        let app = router(inner.clone());
        let task = tokio::spawn(faults::serve(listener, inner.clone(), app));
        let transport = tokio::spawn(behaviour::tick(inner.clone()));
        Ok(OutlookSandbox {
            inner,
            addr,
            task,
            transport,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1.0`: the Graph base URL to give a connector.
    pub fn base_url(&self) -> String {
        format!("{}/v1.0", self.inner.root)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn root_url(&self) -> String {
        self.inner.root.clone()
    }

    /// `{root}/common/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/common/oauth2/v2.0/token", self.inner.root)
    }

    /// `{root}/common/oauth2/v2.0/authorize` (any tenant segment works).
    pub fn authorize_url(&self) -> String {
        format!("{}/common/oauth2/v2.0/authorize", self.inner.root)
    }

    /// Makes the consent screen answer `error=access_denied` (or approve again).
    pub fn set_consent_denied(&self, denied: bool) {
        self.inner.tokens.lock().expect("tokens").deny_consent = denied;
    }

    /// Revokes a refresh token (the token endpoint then answers `invalid_grant`).
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.inner
            .tokens
            .lock()
            .expect("tokens")
            .refresh
            .remove(token)
            .is_some()
    }

    /// Lifetime of access tokens issued from now on (default 3600 s).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.inner.tokens.lock().expect("tokens").access_ttl = ttl;
    }

    /// Invalidates every access token issued so far (their next use answers 401).
    pub fn expire_access_tokens(&self) {
        let mut t = self.inner.tokens.lock().expect("tokens");
        let issued: Vec<String> = t.access.keys().cloned().collect();
        for token in issued {
            t.access.remove(&token);
            t.revoked.insert(token);
        }
    }

    /// A refresh token for `user` with these scopes, redeemable at [`Self::token_url`].
    pub fn issue_refresh_token(&self, user: &str, scopes: &[&str]) -> String {
        self.inner.issue_refresh_token(user, scopes)
    }

    /// An access token for `user` with these scopes (valid for an hour).
    pub fn issue_access_token(&self, user: &str, scopes: &[&str]) -> String {
        self.inner.issue_access_token(user, scopes)
    }

    /// Makes an access token answer 401 from now on.
    pub fn revoke_access_token(&self, token: &str) {
        self.inner.revoke(token);
    }

    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    pub fn reset_stats(&self) {
        self.inner.reset_stats();
    }

    /// Records every API request (batch parts included) with its answer; see [`Self::requests`].
    pub fn set_recording(&self, on: bool) {
        self.inner.set_recording(on);
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.inner.logged()
    }

    /// Switches throttling on or off.
    pub fn set_quotas(&self, on: bool) {
        self.inner.limits.lock().expect("limits").enabled = on;
    }

    /// Per-mailbox request quota (default 10,000 per 10 minutes); starts fresh windows.
    pub fn set_rate_limit(&self, max_requests: u64, window: Duration) {
        let mut l = self.inner.limits.lock().expect("limits");
        l.rate_max = max_requests;
        l.rate_window = window;
        for entry in l.mailboxes.values_mut() {
            entry.1 = std::time::Instant::now();
            entry.2 = 0;
        }
    }

    /// The next `n` API requests answer 429 with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        let mut l = self.inner.limits.lock().expect("limits");
        l.forced = n;
        l.forced_retry_after = retry_after_secs;
    }

    /// Arms a fault for matching requests (see [`Fault`]).
    pub fn inject_fault(&self, fault: Fault) {
        self.inner.faults.lock().expect("faults").push(fault);
    }

    pub fn clear_faults(&self) {
        self.inner.faults.lock().expect("faults").clear();
    }

    /// The next `n` POST requests (sends, replies, creates) take effect but their answers are
    /// lost: the connection closes without a response, as when it is lost in transit.
    pub fn lose_next_responses(&self, n: u32) {
        self.inject_fault(Fault::new("POST", "/v1.0/", FaultKind::LoseResponse).times(n));
    }

    /// Messages of a folder (id or well-known name) as Graph renders them, newest first.
    pub fn messages_in(&self, user: &str, folder: &str) -> Vec<serde_json::Value> {
        self.message_ids(user, folder)
            .iter()
            .filter_map(|id| self.message_json(user, id))
            .collect()
    }

    /// The provider behaviours in force.
    pub fn behaviour(&self) -> Behaviour {
        *self.inner.behaviour.lock().expect("behaviour")
    }

    /// Switches provider behaviours (see [`Behaviour`]) for requests from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.inner.behaviour.lock().expect("behaviour") = behaviour;
    }

    /// Messages accepted for sending that have not reached Sent Items yet.
    pub fn in_transit(&self) -> usize {
        let mut all = self.inner.mailboxes.lock().expect("mailboxes");
        let mut transit = self.inner.transit.lock().expect("transit");
        behaviour::advance(&mut transit, &mut all, false);
        transit.len()
    }

    /// Completes the transport of every message in transit now (Sent Items, recipients).
    pub fn finish_transport(&self) {
        let mut all = self.inner.mailboxes.lock().expect("mailboxes");
        let mut transit = self.inner.transit.lock().expect("transit");
        behaviour::advance(&mut transit, &mut all, true);
    }

    pub fn set_latency(&self, latency: Option<Duration>) {
        *self.inner.latency.lock().expect("latency") = latency;
    }

    /// A delay added once per HTTP request, before it is handled: a network round trip. Unlike
    /// [`OutlookSandbox::set_latency`] (Graph's time per request, also spent on each `$batch`
    /// part), a `$batch` pays it once.
    pub fn set_round_trip(&self, round_trip: Option<Duration>) {
        *self.inner.round_trip.lock().expect("round trip") = round_trip;
    }

    /// Expires every delta token of `user` issued so far (their next use answers 410).
    pub fn expire_delta_tokens(&self, user: &str) {
        self.inner.with_mailbox(user, |mb| mb.delta_epoch += 1);
    }

    /// Puts a new message in a folder (id or well-known name); returns its id.
    pub fn deliver(&self, user: &str, folder: &str, msg: NewMessage) -> Option<String> {
        let id = self
            .inner
            .with_mailbox(user, |mb| seed::deliver(mb, folder, msg))
            .flatten();
        self.inner.notify();
        id
    }

    /// Marks a message read or unread (a change delta reports).
    pub fn set_read(&self, user: &str, message_id: &str, read: bool) -> bool {
        self.inner
            .with_mailbox(user, |mb| {
                let mut m = mb.messages.get(message_id)?.clone();
                m.is_read = read;
                mb.put_message(m);
                Some(())
            })
            .flatten()
            .is_some()
    }

    /// Moves a message to another folder (same id, as Graph keeps it within a mailbox).
    pub fn move_message(&self, user: &str, message_id: &str, folder: &str) -> bool {
        self.inner
            .with_mailbox(user, |mb| {
                let target = mb.folder(folder)?.id.clone();
                let mut m = mb.messages.get(message_id)?.clone();
                m.folder_id = target;
                mb.put_message(m);
                Some(())
            })
            .flatten()
            .is_some()
    }

    /// Deletes a message for good.
    pub fn delete_message(&self, user: &str, message_id: &str) -> bool {
        self.inner
            .with_mailbox(user, |mb| mb.remove_message(message_id).is_some())
            .unwrap_or(false)
    }

    /// Ids of the messages in a folder (id or well-known name), newest first.
    pub fn message_ids(&self, user: &str, folder: &str) -> Vec<String> {
        self.inner
            .with_mailbox(user, |mb| {
                let Some(f) = mb.folder(folder).map(|f| f.id.clone()) else {
                    return Vec::new();
                };
                let mut ms: Vec<_> = mb.messages.values().filter(|m| m.folder_id == f).collect();
                ms.sort_by(|a, b| b.received.cmp(&a.received).then(a.id.cmp(&b.id)));
                ms.into_iter().map(|m| m.id.clone()).collect()
            })
            .unwrap_or_default()
    }

    /// The id of a folder by well-known name or display path (`Inbox/Projects`).
    pub fn folder_id(&self, user: &str, name: &str) -> Option<String> {
        self.inner
            .with_mailbox(user, |mb| seed::folder_by_path(mb, name))
            .flatten()
    }

    /// A message as Graph renders it (for assertions).
    pub fn message_json(&self, user: &str, message_id: &str) -> Option<serde_json::Value> {
        self.inner
            .with_mailbox(user, |mb| {
                mb.messages
                    .get(message_id)
                    .map(|m| serde_json::Value::Object(m.to_json(Default::default())))
            })
            .flatten()
    }
}

fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(auth::token_endpoint))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            axum::routing::get(auth::authorize),
        )
        .route(
            "/upload/sessions/{token}",
            axum::routing::put(uploads::upload),
        )
        .fallback(graph::entry)
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(inner)
}
