//! A Microsoft Graph mail emulator: in memory, several users, real HTTP, the paths of
//! `https://graph.microsoft.com/v1.0` (`/v1.0/me/...` and `/v1.0/users/{id}/...`), a
//! Microsoft-shaped token endpoint, OData paging, delta, `$batch` and Outlook's throttling.
//! The HTTP pipeline, the token authority, faults and latency are `sandbox-kit`'s; this crate
//! holds Graph's API and Microsoft's facts, and answers the kit's [`Emulator`] controls.
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
mod calendar;
mod folders;
mod graph;
mod messages;
mod model;
mod odata;
mod profile;
mod reply;
mod seed;
mod state;
mod subs;
mod uploads;
mod writes;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sandbox_kit::{Kit, Server};
use serde_json::{json, Value};

pub use behaviour::{Behaviour, DEFAULT_TRANSPORT_DELAY};
pub use model::WELL_KNOWN;
pub use sandbox_kit::{Emulator, Fault, FaultKind, SandboxConfig, Seed, TokenRule, DEFAULT_USER};
pub use seed::NewMessage;
pub use state::{LoggedRequest, Stats};

use state::Inner;

/// A running emulator. Dropping it stops the server and its transport.
pub struct OutlookSandbox {
    inner: Arc<Inner>,
    server: Server,
    /// Moves mail in transit on to Sent Items (Graph sends asynchronously).
    transport: tokio::task::JoinHandle<()>,
}

impl Drop for OutlookSandbox {
    fn drop(&mut self) {
        self.transport.abort();
    }
}

impl fmt::Debug for OutlookSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlookSandbox")
            .field("addr", &self.server.addr())
            .finish()
    }
}

impl OutlookSandbox {
    /// Binds `cfg.bind` and serves on a Tokio task. Must be called inside a Tokio runtime.
    pub fn start(cfg: SandboxConfig) -> std::io::Result<OutlookSandbox> {
        let (listener, addr) = Server::bind(cfg.bind)?;
        let mailboxes = Inner::mailboxes(&cfg);
        let users = Arc::new(state::Users(mailboxes.clone()));
        let kit = Kit::new(&profile::MICROSOFT, &cfg, users)?;
        let inner = Arc::new(Inner::new(kit.clone(), mailboxes, format!("http://{addr}")));
        let app = sandbox_kit::oauth::routes(
            kit.clone(),
            "/{tenant}/oauth2/v2.0/token",
            &["/{tenant}/oauth2/v2.0/authorize"],
        )
        .merge(router(inner.clone()));
        let server = Server::spawn(listener, kit, app);
        let transport = tokio::spawn(behaviour::tick(inner.clone()));
        Ok(OutlookSandbox {
            inner,
            server,
            transport,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
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
        self.inner.kit.set_consent_denied(denied);
    }

    /// Revokes a refresh token (the token endpoint then answers `invalid_grant`).
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.inner.kit.revoke_refresh_token(token)
    }

    /// Lifetime of access tokens issued from now on (default 3600 s).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.inner.kit.set_access_token_ttl(ttl);
    }

    /// Invalidates every access token issued so far (their next use answers 401).
    pub fn expire_access_tokens(&self) {
        self.inner.kit.expire_access_tokens();
    }

    /// A refresh token for `user` with these scopes, redeemable at [`Self::token_url`].
    pub fn issue_refresh_token(&self, user: &str, scopes: &[&str]) -> String {
        self.inner.kit.issue_refresh_token(user, scopes)
    }

    /// An access token for `user` with these scopes (valid for an hour).
    pub fn issue_access_token(&self, user: &str, scopes: &[&str]) -> String {
        self.inner.kit.issue_access_token(user, scopes)
    }

    /// Makes an access token answer 401 from now on.
    pub fn revoke_access_token(&self, token: &str) {
        self.inner.kit.revoke_access_token(token);
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
        self.inner.kit.set_quotas(on);
    }

    /// Per-mailbox request quota (default 10,000 per 10 minutes); starts fresh windows.
    pub fn set_rate_limit(&self, max_requests: u64, window: Duration) {
        let units = u32::try_from(max_requests).unwrap_or(u32::MAX);
        self.inner.kit.set_quota_limit(units, window);
    }

    /// The next `n` API requests answer 429 with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        self.inner.kit.throttle_next(n, retry_after_secs);
    }

    /// Arms a fault for matching requests (see [`Fault`]).
    pub fn inject_fault(&self, fault: Fault) {
        self.inner.kit.inject_fault(fault);
    }

    pub fn clear_faults(&self) {
        self.inner.kit.clear_faults();
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

    /// Graph's time per request, spent on each API request and each `$batch` part.
    pub fn set_latency(&self, latency: Option<Duration>) {
        self.inner.kit.set_latency(latency);
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

/// Every path but the OAuth endpoints (which are the kit's).
fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route(
            "/upload/sessions/{token}",
            axum::routing::put(uploads::upload),
        )
        .fallback(graph::entry)
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(inner)
}

impl Emulator for OutlookSandbox {
    fn kit(&self) -> &Kit {
        &self.inner.kit
    }

    fn base_url(&self) -> String {
        OutlookSandbox::base_url(self)
    }

    fn token_url(&self) -> String {
        OutlookSandbox::token_url(self)
    }

    fn authorize_url(&self) -> String {
        OutlookSandbox::authorize_url(self)
    }

    fn stats_json(&self) -> Value {
        let st = self.stats();
        json!({
            "requests": st.requests,
            "batch_requests": st.batch_requests,
            "batch_parts": st.batch_parts,
            "token_requests": st.token_requests,
            "throttled": st.throttled,
            "unauthorized": st.unauthorized,
            "max_in_flight": st.max_in_flight,
            "faults_triggered": st.faults_triggered,
        })
    }

    fn reset_stats(&self) {
        OutlookSandbox::reset_stats(self);
    }

    /// The messages of `folder` (default `inbox`) as Graph JSON.
    fn mailbox_json(&self, user: &str, folder: Option<&str>) -> Option<Value> {
        let folder = folder.unwrap_or("inbox");
        let messages: Vec<Value> = self
            .message_ids(user, folder)
            .iter()
            .filter_map(|id| self.message_json(user, id))
            .collect();
        Some(json!({"email": user, "folder": folder, "messages": messages}))
    }

    /// Every delta token of `user` issued so far expires (410 on its next use).
    fn expire_sync_tokens(&self, user: &str) {
        self.expire_delta_tokens(user);
    }
}
