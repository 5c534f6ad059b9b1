//! Where the real Gmail is harsher than a naive emulator, and the switch for each. Every
//! behaviour is on by default (`Behaviour::default()`); `Behaviour::kind()` switches them all
//! off for tests that need the old, kinder emulator. The project's
//! `docs/provider-behaviour.md` names the source of each.

/// Which per-user quota Google gives the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaProfile {
    /// Projects created since 2026-05-01: 6,000 units per user per minute, reads dearer
    /// (`messages.get` 20 units, `threads.get` 40).
    Since2026,
    /// The older quota: 15,000 units per user per minute at Google's published unit costs
    /// (`messages.get` 5, `threads.get` 10).
    Classic,
}

impl QuotaProfile {
    /// Units per user per minute.
    pub fn units_per_minute(self) -> u32 {
        match self {
            QuotaProfile::Since2026 => 6_000,
            QuotaProfile::Classic => 15_000,
        }
    }
}

/// Sends per user in any 24 hours on a consumer (`@gmail.com`) account.
pub const CONSUMER_DAILY_SENDS: u32 = 500;
/// Sends per user in any 24 hours on a Google Workspace account.
pub const WORKSPACE_DAILY_SENDS: u32 = 2_000;
/// The largest plain (non-upload) request body Gmail takes, in bytes.
pub const JSON_BODY_LIMIT: usize = 1_048_576;

/// The provider behaviours of one Gmail emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    /// `messages.send` and `drafts.send` give the sent message a Message-ID of Gmail's own
    /// (`<...@mail.gmail.com>`) instead of the client's (gauteh/lieer#198). `insert` and
    /// `import` keep the client's either way; custom `X-` headers are always kept.
    pub own_message_ids: bool,
    /// Google's threading rule ("Managing threads"): a message joins a thread only with the
    /// thread's `threadId` (when the request names one) **and** `In-Reply-To` / `References`
    /// into the thread **and** a matching subject (`Re:`/`Fwd:` aside); otherwise it starts a
    /// new thread. Off: `threadId` alone, or the references alone, join.
    pub threading_rule: bool,
    /// The per-user quota in force (with quotas on): the 2026 quota by default.
    pub quota: QuotaProfile,
    /// Throttle answers (quota, concurrency, daily sends) carry `Retry-After`. Google usually
    /// sends none, so it is off by default; `throttle_next` always sends one.
    pub retry_after: bool,
    /// Sends (`messages.send`, `drafts.send`) per user in any 24 hours, with quotas on; over
    /// it 429 "User-rate limit exceeded. Retry after ...". None: no limit.
    pub daily_send_limit: Option<u32>,
    /// Plain request bodies (not `/upload/`) above this many bytes are refused with 400
    /// "Request payload size exceeds the limit". None: no limit.
    pub json_body_limit: Option<usize>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            own_message_ids: true,
            threading_rule: true,
            quota: QuotaProfile::Since2026,
            retry_after: false,
            daily_send_limit: Some(CONSUMER_DAILY_SENDS),
            json_body_limit: Some(JSON_BODY_LIMIT),
        }
    }
}

impl Behaviour {
    /// Every behaviour switched off: the client's Message-ID is kept on sends, the older and
    /// larger quota, throttles say when to retry, no daily send limit, any body size.
    pub fn kind() -> Behaviour {
        Behaviour {
            own_message_ids: false,
            threading_rule: false,
            quota: QuotaProfile::Classic,
            retry_after: true,
            daily_send_limit: None,
            json_body_limit: None,
        }
    }
}
