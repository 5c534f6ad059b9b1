//! The emulator's public configuration and inspection types.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use connector_core::Secret;

use super::expand_scope;

/// Which mailbox content the emulator starts with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seed {
    /// A realistic mailbox for `ada@example.com` and `grace@example.com`.
    #[default]
    Demo,
    /// `n` synthetic messages for `ada@example.com` (plus an empty `grace@example.com`).
    Count(usize),
    /// Both users, no messages.
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

/// An accepted bearer token: `TOKEN=user:scope,scope` (scopes may be short, e.g.
/// `gmail.readonly`, or full URLs).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRule {
    pub token: String,
    pub user: String,
    /// Full scope URLs.
    pub scopes: Vec<String>,
}

impl TokenRule {
    pub fn new(token: impl Into<String>, user: impl Into<String>, scopes: &[&str]) -> Self {
        Self {
            token: token.into(),
            user: user.into(),
            scopes: scopes.iter().map(|s| expand_scope(s)).collect(),
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
    fn from_str(s: &str) -> Result<Self, String> {
        let (token, rest) = s.split_once('=').ok_or("expected TOKEN=user:scope,scope")?;
        let (user, scopes) = rest
            .split_once(':')
            .ok_or("expected TOKEN=user:scope,scope")?;
        if token.is_empty() || !user.contains('@') {
            return Err("expected TOKEN=user@domain:scope,scope".into());
        }
        let scopes: Vec<&str> = scopes.split(',').filter(|s| !s.trim().is_empty()).collect();
        Ok(TokenRule::new(token, user, &scopes))
    }
}

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    pub seed: Seed,
    /// Empty: any non-empty bearer token is `ada@example.com` with every scope.
    pub tokens: Vec<TokenRule>,
    /// Per-user quota of 15,000 units per minute (on by default).
    pub quotas: bool,
    /// The token endpoint returns a new refresh token on every refresh and revokes the old one.
    pub rotate_refresh_tokens: bool,
    /// Delay added before every answer.
    pub latency: Option<Duration>,
    /// Where the emulator is as harsh as the real Gmail (all on by default).
    pub behaviour: crate::Behaviour,
    /// Trust an outside issuer: unknown bearer tokens are looked up at this URL (RFC 7662
    /// `POST token=...` or Google's tokeninfo answer: `email`/`username`/`sub`, `scope`,
    /// `exp`/`expires_in`, `active`) instead of being the default user.
    pub introspection_url: Option<String>,
    /// The emulator's own client credentials at the issuer, sent with every introspection
    /// request as HTTP Basic (`client_secret_basic`, RFC 7662 section 2.1): issuers such as
    /// oidc-provider answer authenticated resource servers only. No secret: the id alone.
    pub introspection_client_id: Option<String>,
    pub introspection_client_secret: Option<Secret>,
    /// When set, an active token is accepted only if its `aud` (a string or an array) names
    /// this audience (the API's resource indicator, e.g. `https://gmail.googleapis.com/`).
    pub introspection_audience: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::Demo,
            tokens: Vec::new(),
            quotas: true,
            rotate_refresh_tokens: false,
            latency: None,
            behaviour: crate::Behaviour::default(),
            introspection_url: None,
            introspection_client_id: None,
            introspection_client_secret: None,
            introspection_audience: None,
        }
    }
}

/// Request counters. Every key of `by_method` is a discovery method id without the
/// `gmail.users.` prefix (`messages.get`, `getProfile`, ...), counting direct and batched calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every HTTP request received (API, batch, upload, token).
    pub http_requests: u64,
    /// API method calls, including each part of a batch.
    pub api_calls: u64,
    pub by_method: BTreeMap<String, u64>,
    pub batch_requests: u64,
    pub batch_parts: u64,
    pub token_requests: u64,
    pub upload_requests: u64,
    /// Calls answered 429/403 by the quota.
    pub rate_limited: u64,
    pub faults_triggered: u64,
}

/// One stored message as the tests see it.
#[derive(Debug, Clone)]
pub struct MessageSnapshot {
    pub id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    pub raw: Bytes,
    pub internal_date: i64,
    pub history_id: u64,
}

/// A user's mailbox at one moment.
#[derive(Debug, Clone)]
pub struct MailboxSnapshot {
    pub email: String,
    /// Newest first.
    pub messages: Vec<MessageSnapshot>,
    /// draft id -> message id.
    pub drafts: BTreeMap<String, String>,
    /// user label id -> name.
    pub labels: BTreeMap<String, String>,
    pub history_id: u64,
}

impl MailboxSnapshot {
    pub fn message(&self, id: &str) -> Option<&MessageSnapshot> {
        self.messages.iter().find(|m| m.id == id)
    }
}
