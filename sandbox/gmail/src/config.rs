//! The emulator's inspection types (its configuration is the kit's `SandboxConfig`).

use std::collections::BTreeMap;

use bytes::Bytes;

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
