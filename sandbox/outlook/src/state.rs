//! Shared emulator state: mailboxes, tokens, limits, stats and the request log.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::model::Mailbox;
use super::{seed, SandboxConfig, TokenRule};

/// Request counts since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests to the Graph API (a `$batch` counts once here).
    pub requests: u64,
    /// `$batch` requests and the parts they carried.
    pub batch_requests: u64,
    pub batch_parts: u64,
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// 429 answers (batch parts included).
    pub throttled: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// Most API requests in flight at once for one mailbox.
    pub max_in_flight: u64,
    /// Change notifications posted to subscribers.
    pub notifications: u64,
    /// Injected faults that fired.
    pub faults_triggered: u64,
}

/// One API request as received (a batch part has `in_batch`), with its answer.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    /// Path after the host, e.g. `/v1.0/me/messages`.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    pub in_batch: bool,
    pub status: u16,
    pub response: Value,
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub user: String,
    /// `None`: every scope.
    pub scopes: Option<Vec<String>>,
    pub expires: Option<Instant>,
}

pub struct Tokens {
    pub rules: Vec<TokenRule>,
    pub access: HashMap<String, Grant>,
    pub refresh: HashMap<String, Grant>,
    pub revoked: HashSet<String>,
    pub rotate: bool,
    /// Authorization codes waiting to be redeemed.
    pub codes: HashMap<String, super::auth::PendingCode>,
    pub deny_consent: bool,
    pub access_ttl: Duration,
}

pub struct Limits {
    pub enabled: bool,
    pub rate_max: u64,
    pub rate_window: Duration,
    pub forced: u32,
    pub forced_retry_after: u64,
    pub max_concurrent: usize,
    /// Per mailbox: (in flight, window start, requests in window).
    pub mailboxes: HashMap<String, (usize, Instant, u64)>,
}

pub struct Inner {
    pub root: String,
    pub introspection_url: Option<String>,
    pub introspection_client: Option<super::introspect::ClientAuth>,
    pub introspection_audience: Option<String>,
    pub mailboxes: Mutex<HashMap<String, Mailbox>>,
    /// Provider behaviours in force.
    pub behaviour: Mutex<super::Behaviour>,
    /// Messages accepted for sending, not yet in Sent Items (lock after `mailboxes`).
    pub transit: Mutex<Vec<super::behaviour::Transit>>,
    pub default_user: String,
    pub tokens: Mutex<Tokens>,
    pub limits: Mutex<Limits>,
    pub latency: Mutex<Option<Duration>>,
    /// Added once per HTTP request (a `$batch` is one), like a network round trip.
    pub round_trip: Mutex<Option<Duration>>,
    pub recording: Mutex<Option<Vec<LoggedRequest>>>,
    pub sessions: Mutex<HashMap<String, super::admin::Session>>,
    pub subs: Mutex<HashMap<String, super::subs::Subscription>>,
    pub notifications: AtomicU64,
    pub faults: Mutex<Vec<super::faults::Fault>>,
    pub faults_triggered: AtomicU64,
    pub requests: AtomicU64,
    pub batch_requests: AtomicU64,
    pub batch_parts: AtomicU64,
    pub token_requests: AtomicU64,
    pub throttled: AtomicU64,
    pub unauthorized: AtomicU64,
    pub max_in_flight: AtomicU64,
    /// One outbound client (no redirects) for introspection, subscription validation and
    /// change notifications, so each call reuses the pool instead of building a client.
    pub http: reqwest::Client,
}

impl Inner {
    pub fn new(cfg: &SandboxConfig, root: String) -> Inner {
        let mailboxes = seed::build(&cfg.seed);
        Inner {
            root,
            introspection_url: cfg.introspection_url.clone(),
            introspection_client: super::introspect::ClientAuth::from_config(
                cfg.introspection_client_id.as_deref(),
                cfg.introspection_client_secret.as_ref(),
            ),
            introspection_audience: cfg.introspection_audience.clone(),
            mailboxes: Mutex::new(mailboxes),
            behaviour: Mutex::new(cfg.behaviour),
            transit: Mutex::new(Vec::new()),
            default_user: seed::ADA.to_string(),
            tokens: Mutex::new(Tokens {
                rules: cfg.tokens.clone(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                revoked: HashSet::new(),
                rotate: cfg.rotate_refresh_tokens,
                codes: HashMap::new(),
                deny_consent: false,
                access_ttl: Duration::from_secs(3600),
            }),
            limits: Mutex::new(Limits {
                enabled: cfg.quotas,
                rate_max: 10_000,
                rate_window: Duration::from_secs(600),
                forced: 0,
                forced_retry_after: 1,
                max_concurrent: 4,
                mailboxes: HashMap::new(),
            }),
            latency: Mutex::new(cfg.latency),
            round_trip: Mutex::new(None),
            recording: Mutex::new(None),
            sessions: Mutex::new(HashMap::new()),
            subs: Mutex::new(HashMap::new()),
            notifications: AtomicU64::new(0),
            faults: Mutex::new(Vec::new()),
            faults_triggered: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            batch_requests: AtomicU64::new(0),
            batch_parts: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    /// Runs `f` on a user's mailbox (by email or id, case-insensitive).
    /// Mail in transit that is due moves on first (see [`super::behaviour::advance`]).
    pub fn with_mailbox<T>(&self, user: &str, f: impl FnOnce(&mut Mailbox) -> T) -> Option<T> {
        let mut all = self.mailboxes.lock().expect("mailboxes");
        super::behaviour::advance(&mut self.transit.lock().expect("transit"), &mut all, false);
        let key = resolve_user(&all, user)?;
        all.get_mut(&key).map(f)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::SeqCst),
            batch_requests: self.batch_requests.load(Ordering::SeqCst),
            batch_parts: self.batch_parts.load(Ordering::SeqCst),
            token_requests: self.token_requests.load(Ordering::SeqCst),
            throttled: self.throttled.load(Ordering::SeqCst),
            unauthorized: self.unauthorized.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            notifications: self.notifications.load(Ordering::SeqCst),
            faults_triggered: self.faults_triggered.load(Ordering::SeqCst),
        }
    }

    pub fn reset_stats(&self) {
        for c in [
            &self.requests,
            &self.batch_requests,
            &self.batch_parts,
            &self.token_requests,
            &self.throttled,
            &self.unauthorized,
            &self.max_in_flight,
            &self.notifications,
            &self.faults_triggered,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }

    pub fn set_recording(&self, on: bool) {
        *self.recording.lock().expect("recording") = on.then(Vec::new);
    }

    pub fn logged(&self) -> Vec<LoggedRequest> {
        self.recording
            .lock()
            .expect("recording")
            .clone()
            .unwrap_or_default()
    }

    pub fn record(&self, entry: impl FnOnce() -> LoggedRequest) {
        if let Some(log) = self.recording.lock().expect("recording").as_mut() {
            log.push(entry());
        }
    }

    /// Takes a mailbox slot: `Err(retry_after_secs, reason)` when throttled.
    pub fn acquire(&self, mailbox: &str) -> Result<(), (u64, &'static str)> {
        let mut l = self.limits.lock().expect("limits");
        if l.forced > 0 {
            l.forced -= 1;
            return Err((l.forced_retry_after, "MailboxConcurrency"));
        }
        let enabled = l.enabled;
        let (max_c, rate_max, window) = (l.max_concurrent, l.rate_max, l.rate_window);
        let now = Instant::now();
        let entry = l
            .mailboxes
            .entry(mailbox.to_string())
            .or_insert((0, now, 0));
        if now.duration_since(entry.1) >= window {
            entry.1 = now;
            entry.2 = 0;
        }
        if enabled {
            if entry.0 >= max_c {
                return Err((1, "MailboxConcurrency"));
            }
            if entry.2 >= rate_max {
                let left = window.saturating_sub(now.duration_since(entry.1));
                return Err((left.as_secs().max(1), "request"));
            }
        }
        entry.0 += 1;
        entry.2 += 1;
        self.max_in_flight
            .fetch_max(entry.0 as u64, Ordering::SeqCst);
        Ok(())
    }

    pub fn release(&self, mailbox: &str) {
        let mut l = self.limits.lock().expect("limits");
        if let Some(e) = l.mailboxes.get_mut(mailbox) {
            e.0 = e.0.saturating_sub(1);
        }
    }
}

/// The mailbox key (lowercase email) for an email or a user id.
pub fn resolve_user(all: &HashMap<String, Mailbox>, user: &str) -> Option<String> {
    let lower = user.to_ascii_lowercase();
    if all.contains_key(&lower) {
        return Some(lower);
    }
    all.iter()
        .find(|(_, mb)| mb.user.id.eq_ignore_ascii_case(user))
        .map(|(k, _)| k.clone())
}
