//! Shared emulator state: mailboxes, stats and the request log (tokens, faults, latency and
//! quotas are the kit's).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox_kit::{Directory, Kit, Refusal};
use serde_json::Value;

use super::model::Mailbox;
use super::{seed, SandboxConfig};

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

pub struct Inner {
    pub kit: Arc<Kit>,
    pub root: String,
    pub mailboxes: Arc<Mutex<HashMap<String, Mailbox>>>,
    /// Provider behaviours in force.
    pub behaviour: Mutex<super::Behaviour>,
    /// Messages accepted for sending, not yet in Sent Items (lock after `mailboxes`).
    pub transit: Mutex<Vec<super::behaviour::Transit>>,
    /// Added once per HTTP request (a `$batch` is one), like a network round trip.
    pub round_trip: Mutex<Option<Duration>>,
    pub recording: Mutex<Option<Vec<LoggedRequest>>>,
    pub sessions: Mutex<HashMap<String, super::admin::Session>>,
    pub subs: Mutex<HashMap<String, super::subs::Subscription>>,
    pub notifications: AtomicU64,
    /// How notifications are POSTed (delays, duplicates, losses).
    pub notices: super::notices::Notices,
    pub requests: AtomicU64,
    pub batch_requests: AtomicU64,
    pub batch_parts: AtomicU64,
    pub throttled: AtomicU64,
    pub unauthorized: AtomicU64,
    pub max_in_flight: AtomicU64,
}

/// The emulated users, for the kit's token authority: an address or a Graph user id.
pub struct Users(pub Arc<Mutex<HashMap<String, Mailbox>>>);

impl Directory for Users {
    fn resolve(&self, user: &str) -> Option<String> {
        resolve_user(&self.0.lock().expect("mailboxes"), user)
    }

    fn ensure(&self, user: &str) -> String {
        self.resolve(user)
            .unwrap_or_else(|| user.to_ascii_lowercase())
    }
}

impl Inner {
    /// The seeded mailboxes, shared with the kit's [`Users`].
    pub fn mailboxes(cfg: &SandboxConfig) -> Arc<Mutex<HashMap<String, Mailbox>>> {
        Arc::new(Mutex::new(seed::build(&cfg.seed)))
    }

    pub fn new(
        kit: Arc<Kit>,
        mailboxes: Arc<Mutex<HashMap<String, Mailbox>>>,
        root: String,
    ) -> Inner {
        Inner {
            kit,
            root,
            mailboxes,
            behaviour: Mutex::new(super::Behaviour::default()),
            transit: Mutex::new(Vec::new()),
            round_trip: Mutex::new(None),
            recording: Mutex::new(None),
            sessions: Mutex::new(HashMap::new()),
            subs: Mutex::new(HashMap::new()),
            notifications: AtomicU64::new(0),
            notices: Default::default(),
            requests: AtomicU64::new(0),
            batch_requests: AtomicU64::new(0),
            batch_parts: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
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
            token_requests: self.kit.counts().token_requests,
            throttled: self.throttled.load(Ordering::SeqCst),
            unauthorized: self.unauthorized.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            notifications: self.notifications.load(Ordering::SeqCst),
            faults_triggered: self.kit.counts().faults_triggered,
        }
    }

    pub fn reset_stats(&self) {
        for c in [
            &self.requests,
            &self.batch_requests,
            &self.batch_parts,
            &self.throttled,
            &self.unauthorized,
            &self.max_in_flight,
            &self.notifications,
        ] {
            c.store(0, Ordering::SeqCst);
        }
        self.kit.reset_counts();
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
        match self.kit.admit(mailbox, 1, true) {
            Ok(in_flight) => {
                self.max_in_flight
                    .fetch_max(in_flight as u64, Ordering::SeqCst);
                Ok(())
            }
            Err(Refusal::Forced(s)) => Err((s, "MailboxConcurrency")),
            Err(Refusal::Concurrency(s)) => Err((s, "MailboxConcurrency")),
            Err(Refusal::Rate(s)) => Err((s, "request")),
        }
    }

    pub fn release(&self, mailbox: &str) {
        self.kit.release(mailbox);
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
