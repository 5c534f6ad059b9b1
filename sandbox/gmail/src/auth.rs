//! Bearer tokens, scopes per method (from the contracts' `gmail-methods.json`), the per-user
//! quota, and the Google-shaped token endpoint.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;

mod oauth;

pub(crate) use oauth::PendingCode;

/// The flattened discovery methods: id -> accepted scopes (any one suffices).
static METHODS_JSON: &str = include_str!("../data/gmail-methods.json");

pub(crate) fn method_scopes(method_id: &str) -> &'static [String] {
    static TABLE: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let v: Value =
            serde_json::from_str(METHODS_JSON).expect("gmail-methods.json is valid JSON");
        v["methods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let id = m["id"].as_str()?.to_string();
                let scopes = m["scopes"]
                    .as_array()?
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                Some((id, scopes))
            })
            .collect()
    });
    table.get(method_id).map(Vec::as_slice).unwrap_or(&[])
}

/// Quota units per call, per Google's published table.
pub(crate) fn quota_cost(method_id: &str) -> u32 {
    let m = method_id.trim_start_matches("gmail.users.");
    match m {
        "getProfile" | "labels.get" | "labels.list" => 1,
        "history.list" => 2,
        "labels.create" | "labels.update" | "labels.patch" | "labels.delete" => 5,
        "messages.get" | "messages.list" | "messages.modify" | "messages.trash"
        | "messages.untrash" => 5,
        "messages.attachments.get" | "drafts.get" | "drafts.list" => 5,
        "messages.delete" | "drafts.create" | "drafts.delete" | "threads.get" | "threads.list" => {
            10
        }
        "threads.modify" | "threads.trash" | "threads.untrash" => 10,
        "drafts.update" => 15,
        "threads.delete" => 20,
        "messages.insert" | "messages.import" => 25,
        "messages.batchModify" | "messages.batchDelete" | "stop" => 50,
        "messages.send" | "drafts.send" | "watch" => 100,
        m if m.starts_with("settings.")
            && (m.ends_with(".get") || m.ends_with(".list") || m.contains(".get")) =>
        {
            1
        }
        m if m.starts_with("settings.") => 5,
        _ => 1,
    }
}

/// `gmail.readonly` -> `https://www.googleapis.com/auth/gmail.readonly`; full URLs unchanged.
pub fn expand_scope(s: &str) -> String {
    let s = s.trim();
    if s.starts_with("https://") {
        s.to_string()
    } else if s == "mail.google.com" || s == "mail.google.com/" || s == "full" {
        "https://mail.google.com/".to_string()
    } else {
        format!("https://www.googleapis.com/auth/{s}")
    }
}

/// Who a token speaks for and what it may do. `scopes == None` means every scope.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub user: String,
    pub scopes: Option<Vec<String>>,
}

impl Grant {
    pub fn allows(&self, accepted: &[String]) -> bool {
        match &self.scopes {
            None => true,
            Some(have) => accepted.is_empty() || accepted.iter().any(|a| have.contains(a)),
        }
    }
}

pub(crate) struct Auth {
    pub default_user: String,
    rules: HashMap<String, Grant>,
    access: HashMap<String, (Grant, Instant)>,
    refresh: HashMap<String, Grant>,
    pub rotate: bool,
    pub access_ttl: Duration,
    codes: HashMap<String, PendingCode>,
    /// The consent screen answers `error=access_denied`.
    pub deny_consent: bool,
    /// Unknown tokens are checked at an introspection URL instead of being the default user.
    pub introspection: bool,
}

pub(crate) fn random_token(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let bytes: [u8; 24] = rng.gen();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

impl Auth {
    pub fn new(default_user: &str, rules: HashMap<String, Grant>, rotate: bool) -> Self {
        Self {
            default_user: default_user.to_string(),
            rules,
            access: HashMap::new(),
            refresh: HashMap::new(),
            rotate,
            access_ttl: Duration::from_secs(3599),
            codes: HashMap::new(),
            deny_consent: false,
            introspection: false,
        }
    }

    /// Resolves a bearer token: issued access tokens, then configured rules, then (with no
    /// rules) any non-empty token as the default user with every scope.
    pub fn authenticate(&self, bearer: &str) -> Option<Grant> {
        if bearer.is_empty() {
            return None;
        }
        if let Some((g, exp)) = self.access.get(bearer) {
            return (Instant::now() < *exp).then(|| g.clone());
        }
        if let Some(g) = self.rules.get(bearer) {
            return Some(g.clone());
        }
        (self.rules.is_empty() && !self.introspection).then(|| Grant {
            user: self.default_user.clone(),
            scopes: None,
        })
    }

    pub(crate) fn is_known(&self, bearer: &str) -> bool {
        self.access
            .get(bearer)
            .is_some_and(|(_, exp)| Instant::now() < *exp)
            || self.rules.contains_key(bearer)
    }

    pub(crate) fn insert_access(&mut self, bearer: &str, grant: Grant, expires: Instant) {
        self.access.insert(bearer.to_string(), (grant, expires));
    }

    pub fn issue_refresh(&mut self, user: &str, scopes: Vec<String>) -> String {
        let t = random_token("1//sandbox-");
        self.refresh.insert(
            t.clone(),
            Grant {
                user: user.to_ascii_lowercase(),
                scopes: Some(scopes),
            },
        );
        t
    }

    pub fn revoke_refresh(&mut self, token: &str) -> bool {
        self.refresh.remove(token).is_some()
    }

    /// Makes every issued access token invalid (the next call answers 401).
    pub fn expire_access_tokens(&mut self) {
        self.access.clear();
    }
}

/// Per-user sliding-window quota.
pub(crate) struct Quota {
    pub enabled: bool,
    pub limit: u32,
    pub window: Duration,
    /// Answer 403 `userRateLimitExceeded` instead of 429 `rateLimitExceeded`.
    pub forbidden: bool,
    used: HashMap<String, VecDeque<(Instant, u32)>>,
}

impl Quota {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            limit: 15_000,
            window: Duration::from_secs(60),
            forbidden: false,
            used: HashMap::new(),
        }
    }

    /// Charges `cost` units; `Err(retry_after_secs)` when over the limit.
    pub fn charge(&mut self, user: &str, cost: u32) -> Result<(), u64> {
        if !self.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let q = self.used.entry(user.to_string()).or_default();
        while q
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        let used: u32 = q.iter().map(|(_, c)| c).sum();
        if used + cost > self.limit {
            let wait = q
                .front()
                .map(|(t, _)| self.window.saturating_sub(now.duration_since(*t)))
                .unwrap_or(self.window);
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        q.push_back((now, cost));
        Ok(())
    }

    pub fn reset(&mut self) {
        self.used.clear();
    }
}
