//! What every provider emulator shares, so that each emulator crate holds only its provider's
//! API: the HTTP pipeline (hyper accept loop around an axum router; faults can drop a
//! connection), the OAuth token authority (token rules, authorization code with PKCE, refresh
//! with rotation, revocation, expiry, introspection of an outside issuer's tokens), fault
//! injection, latency, request counters, one configuration type with one `--token` syntax, and
//! one control surface ([`Emulator`]) that the server, the Python bindings and the tests hold
//! every emulator through.
//!
//! Provider facts (token shapes, scope naming, error bodies) come from each emulator crate as a
//! [`Profile`].

mod authority;
mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod faults;
mod introspect;
pub mod oauth;
mod profile;
mod quota;
mod serve;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

pub use authority::{random_token, Grant, Rejection};
pub use config::{SandboxConfig, Seed, TokenRule};
pub use faults::{Fault, FaultKind};
pub use introspect::grant_from;
pub use profile::{AuthorizeError, AuthorizeFailure, ConsentScreen, Issued, Profile, TokenFailure};
pub use quota::{QuotaRules, Refusal};
pub use serve::Server;

use authority::Authority;
use quota::Quota;

/// The default user of every emulator.
pub const DEFAULT_USER: &str = "ada@example.com";

/// The emulator's users, as the kit needs them: to resolve a `login_hint` and to give tokens
/// (rules, introspected tokens, minted refresh tokens) their canonical user.
pub trait Directory: Send + Sync {
    /// The canonical user for an address (or provider id), when the emulator has it.
    fn resolve(&self, user: &str) -> Option<String>;
    /// The canonical user for an address, creating the user where the emulator does.
    fn ensure(&self, user: &str) -> String;
}

/// Counters the kit keeps for every emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every HTTP request received (API, batch, upload, token).
    pub http_requests: u64,
    pub token_requests: u64,
    /// Injected faults that fired.
    pub faults_triggered: u64,
}

/// The state the kit keeps for one running emulator, and the controls on it.
pub struct Kit {
    pub profile: &'static Profile,
    directory: Arc<dyn Directory>,
    auth: Mutex<Authority>,
    faults: Mutex<Vec<Fault>>,
    latency: Mutex<Option<Duration>>,
    quota: Mutex<Quota>,
    http_requests: AtomicU64,
    token_requests: AtomicU64,
    faults_triggered: AtomicU64,
    issuer: Option<introspect::Issuer>,
    /// One outbound client (no redirects) for introspection and the emulators' own calls out.
    pub http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Kit {
    pub fn new(
        profile: &'static Profile,
        cfg: &SandboxConfig,
        directory: Arc<dyn Directory>,
    ) -> std::io::Result<Arc<Kit>> {
        let rules: HashMap<String, Grant> = cfg
            .tokens
            .iter()
            .map(|r| {
                let scopes = (!r.every_scope()).then(|| {
                    r.scopes
                        .iter()
                        .map(|s| (profile.normalize_scope)(s))
                        .collect()
                });
                let user = directory.ensure(&r.user);
                (r.token.clone(), Grant { user, scopes })
            })
            .collect();
        let issuer = cfg.introspection_url.clone().map(|url| introspect::Issuer {
            url,
            client: connector_core::introspection::ClientAuth::from_config(
                cfg.introspection_client_id.as_deref(),
                cfg.introspection_client_secret.as_ref(),
            ),
            audience: cfg.introspection_audience.clone(),
        });
        let mut auth = Authority::new(
            profile,
            DEFAULT_USER,
            rules,
            cfg.rotate_refresh_tokens
                .unwrap_or(profile.rotates_refresh_tokens),
            issuer.is_some(),
        );
        auth.interactive_consent = cfg.interactive_consent;
        Ok(Arc::new(Kit {
            profile,
            directory,
            auth: Mutex::new(auth),
            faults: Mutex::new(Vec::new()),
            latency: Mutex::new(cfg.latency),
            quota: Mutex::new(Quota::new(cfg.quotas, profile.quota)),
            http_requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            faults_triggered: AtomicU64::new(0),
            issuer,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(std::io::Error::other)?,
        }))
    }

    fn auth(&self) -> MutexGuard<'_, Authority> {
        lock(&self.auth)
    }

    /// Resolves a bearer token to its grant.
    pub fn authenticate(&self, bearer: &str) -> Result<Grant, Rejection> {
        self.auth().authenticate(bearer)
    }

    /// A refresh token the token endpoint accepts, for `user` with `scopes` (as the provider
    /// names them, short or full).
    pub fn issue_refresh_token(&self, user: &str, scopes: &[&str]) -> String {
        let grant = self.grant_for(user, scopes);
        self.auth().issue_refresh(grant)
    }

    /// An access token for `user` with `scopes`, valid for the access-token lifetime.
    pub fn issue_access_token(&self, user: &str, scopes: &[&str]) -> String {
        let grant = self.grant_for(user, scopes);
        self.auth().issue_access(grant)
    }

    fn grant_for(&self, user: &str, scopes: &[&str]) -> Grant {
        Grant {
            user: self.directory.ensure(user),
            scopes: Some(
                scopes
                    .iter()
                    .map(|s| (self.profile.normalize_scope)(s))
                    .collect(),
            ),
        }
    }

    /// Revokes a refresh token (the token endpoint then answers `invalid_grant`); false when
    /// it was not a live refresh token.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.auth().revoke_refresh(token)
    }

    /// Makes one access token answer 401 from now on.
    pub fn revoke_access_token(&self, token: &str) {
        self.auth().revoke_access(token);
    }

    /// Invalidates every access token issued so far (their next use answers 401).
    pub fn expire_access_tokens(&self) {
        self.auth().expire_access_tokens();
    }

    /// Lifetime of access tokens issued from now on.
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.auth().access_ttl = ttl;
    }

    /// Makes the consent screen answer `error=access_denied` (or approve again).
    pub fn set_consent_denied(&self, denied: bool) {
        self.auth().deny_consent = denied;
    }

    /// Makes the consent screen a page on which a person decides (or approve at once again).
    pub fn set_consent_interactive(&self, interactive: bool) {
        self.auth().interactive_consent = interactive;
    }

    /// Adds a fault; faults match by HTTP method and path substring, in order.
    pub fn inject_fault(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub(crate) fn take_fault(&self, method: &str, path_and_query: &str) -> Option<FaultKind> {
        let kind = faults::take(&mut lock(&self.faults), method, path_and_query)?;
        self.faults_triggered.fetch_add(1, Ordering::SeqCst);
        Some(kind)
    }

    /// Delay added to every answer (`None`: none).
    pub fn set_latency(&self, latency: Option<Duration>) {
        *lock(&self.latency) = latency;
    }

    pub fn latency(&self) -> Option<Duration> {
        *lock(&self.latency)
    }

    /// Sleeps the latency once per API call, for emulators whose latency is per call (see
    /// [`Profile::latency_per_request`]).
    pub async fn call_latency(&self) {
        if self.profile.latency_per_request {
            return;
        }
        if let Some(d) = self.latency() {
            tokio::time::sleep(d).await;
        }
    }

    /// Charges `cost` units of the quota to `user` (with `slot`, also takes one of the user's
    /// request slots, to give back with [`Kit::release`]): the user's requests in flight, or
    /// why the call is refused.
    pub fn admit(&self, user: &str, cost: u32, slot: bool) -> Result<usize, Refusal> {
        lock(&self.quota).admit(user, cost, slot)
    }

    /// Gives back a request slot taken by [`Kit::admit`].
    pub fn release(&self, user: &str) {
        lock(&self.quota).release(user);
    }

    /// Takes up to `n` of `user`'s request slots at once (the parts of a batch that the
    /// provider runs in parallel, each counted as a request in flight): how many it got, all
    /// of them with quotas off. Give them back with [`Kit::release_slots`].
    pub fn take_slots(&self, user: &str, n: usize) -> usize {
        lock(&self.quota).take_slots(user, n)
    }

    /// Gives back `n` slots taken by [`Kit::take_slots`].
    pub fn release_slots(&self, user: &str, n: usize) {
        lock(&self.quota).release_slots(user, n);
    }

    /// Whether quotas and throttling are on.
    pub fn quotas_enabled(&self) -> bool {
        lock(&self.quota).enabled
    }

    /// The units per user per window in force.
    pub fn quota_rules(&self) -> QuotaRules {
        lock(&self.quota).rules
    }

    /// Switches quotas and throttling on or off (and forgets usage).
    pub fn set_quotas(&self, on: bool) {
        let mut q = lock(&self.quota);
        q.enabled = on;
        q.reset();
    }

    /// `units` per user in any `window` from now on (forgets usage).
    pub fn set_quota_limit(&self, units: u32, window: Duration) {
        let mut q = lock(&self.quota);
        q.rules.units = units;
        q.rules.window = window;
        q.reset();
    }

    /// The next `n` API calls are refused with `Retry-After: retry_after_secs`, quotas on or off.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        lock(&self.quota).force(n, retry_after_secs);
    }

    pub(crate) fn count_http_request(&self) {
        self.http_requests.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn count_token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            http_requests: self.http_requests.load(Ordering::SeqCst),
            token_requests: self.token_requests.load(Ordering::SeqCst),
            faults_triggered: self.faults_triggered.load(Ordering::SeqCst),
        }
    }

    pub fn reset_counts(&self) {
        for c in [
            &self.http_requests,
            &self.token_requests,
            &self.faults_triggered,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }
}

/// One running emulator, whatever its provider: what the server, the Python bindings and the
/// tests hold every emulator through. The token, fault, latency, quota and throttling controls
/// are the kit's ([`Emulator::kit`]); the rest each emulator answers its provider's way.
pub trait Emulator: Send + Sync {
    /// The connector type it emulates (`gmail`, `outlook`).
    fn provider(&self) -> &'static str {
        self.kit().profile.name
    }
    fn kit(&self) -> &Kit;
    /// The API base URL to give a connector.
    fn base_url(&self) -> String;
    /// The OAuth token endpoint.
    fn token_url(&self) -> String;
    /// The consent screen.
    fn authorize_url(&self) -> String;
    /// Request counters as JSON (field names are each emulator's own).
    fn stats_json(&self) -> Value;
    fn reset_stats(&self);
    /// What the emulator holds for `user` (Gmail: the mailbox; Outlook: the messages of
    /// `folder`, default the inbox), or None for an unknown user.
    fn mailbox_json(&self, user: &str, folder: Option<&str>) -> Option<Value>;
    /// Makes every sync cursor of `user` issued so far expire (Gmail history ids, Graph delta
    /// tokens): the next sync from one is `sync_required`.
    fn expire_sync_tokens(&self, user: &str);

    /// Sends the provider's push notifications to `endpoint` from now on (Gmail: Pub/Sub push
    /// after `users.watch`), and says what a receiver needs to subscribe and to trust them.
    /// `None`: the emulator has no push.
    fn enable_push(&self, endpoint: &str) -> Option<PushSetup> {
        let _ = endpoint;
        None
    }
}

/// What a push receiver needs from an emulator (see [`Emulator::enable_push`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSetup {
    /// Gmail: the Pub/Sub topic to name in `users.watch`.
    pub topic: Option<String>,
    /// The `aud` of the push tokens.
    pub audience: Option<String>,
    /// The `email` of the push tokens.
    pub service_account: Option<String>,
    /// Where the token issuer publishes its keys.
    pub jwks_url: Option<String>,
    /// Graph: the URL to name as a subscription's `notificationUrl`.
    pub notification_url: Option<String>,
}
