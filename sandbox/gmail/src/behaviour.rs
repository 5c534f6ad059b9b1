//! Where the real Gmail is harsher than a naive emulator, and the switch for each. Every
//! behaviour is on by default (`Behaviour::default()`); `Behaviour::kind()` switches them all
//! off for tests that need the old, kinder emulator. The project's
//! `docs/provider-behaviour.md` names the source of each.

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
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            own_message_ids: true,
            threading_rule: true,
        }
    }
}

impl Behaviour {
    /// Every behaviour switched off: the client's Message-ID is kept on sends.
    pub fn kind() -> Behaviour {
        Behaviour {
            own_message_ids: false,
            threading_rule: false,
        }
    }
}
