//! Mailbox changes, as every provider reports them: the provider-neutral input of the server's
//! events (issue 20).
//!
//! A provider crate that can tell what changed in a mailbox (Gmail `history.list`, Graph message
//! `delta`) implements [`MailChanges`] over its own actions and names it in its descriptor
//! ([`crate::ProviderDescriptor::changes`]). The server keeps the cursor, decides which change
//! is news (it remembers each message's [`MailChange::version`], so a duplicate or a replay of
//! a change it already saw produces nothing) and turns news into events.

use async_trait::async_trait;
use serde_json::Value;

use crate::replica::{ReplicaMessage, ReplicaPage, ReplicaScope};
use crate::{Connector, Output, Result};

/// Runs one of the connector's own actions (the connector itself, or the server's runtime with
/// its stored credentials and refresh lock).
#[async_trait]
pub trait Actions: Send + Sync {
    async fn run(&self, entity: &str, action: &str, params: Value) -> Result<Output>;
}

#[async_trait]
impl Actions for Connector {
    async fn run(&self, entity: &str, action: &str, params: Value) -> Result<Output> {
        self.execute(entity, action, params).await
    }
}

/// How a provider reports mailbox changes.
#[async_trait]
pub trait MailChanges: Send + Sync + std::fmt::Debug {
    /// Changes after `cursor`. Without a cursor: a [`PageKind::Baseline`] page, the cursor of
    /// "now" (and the messages a listing provider already has). A cursor the provider no longer
    /// honours (Gmail 404, Graph 410) is not an error: the answer is a [`PageKind::Resync`]
    /// page listing the mailbox as it is now. `more` is true when the caller should read again
    /// at once (a long backlog).
    async fn read(&self, api: &dyn Actions, cursor: Option<&str>) -> Result<ChangePage>;

    /// The summaries (from, subject, snippet; the text body when `with_body`) of messages, in
    /// the order of `ids`; a message that is gone has `None`.
    async fn summaries(
        &self,
        api: &dyn Actions,
        ids: &[String],
        with_body: bool,
    ) -> Result<Vec<Option<MessageSummary>>>;

    /// Starts the provider's push for the mailbox, when it has one the server can use with this
    /// `target` (Gmail: a Pub/Sub topic; Graph: the notification URL). The default: no push.
    async fn start_push(&self, api: &dyn Actions, target: &PushTarget) -> Result<Option<Push>> {
        let _ = (api, target);
        Ok(None)
    }

    /// Context store: the labels/folders of `scope` as the provider's ids (`(as configured,
    /// id)`), which the replicated messages carry. The default: as configured.
    async fn replica_labels(
        &self,
        api: &dyn Actions,
        scope: &ReplicaScope,
    ) -> Result<Vec<(String, String)>> {
        let _ = api;
        Ok(scope
            .labels
            .iter()
            .map(|l| (l.clone(), l.clone()))
            .collect())
    }

    /// Context store: one page of the backfill of `scope` from `checkpoint` (`None`: the
    /// start). The default: this provider cannot replicate.
    async fn replica_page(
        &self,
        api: &dyn Actions,
        scope: &ReplicaScope,
        checkpoint: Option<&str>,
    ) -> Result<ReplicaPage> {
        let _ = (api, scope, checkpoint);
        Err(crate::ConnectorError::invalid_params(
            "this connector type cannot replicate its mailbox; set replication_config.enabled to false",
        ))
    }

    /// Context store: messages read again (after a change), in the order of `ids`; `None` for
    /// a message that is gone.
    async fn replica_get(
        &self,
        api: &dyn Actions,
        ids: &[String],
        with_body: bool,
    ) -> Result<Vec<Option<ReplicaMessage>>> {
        let _ = (api, ids, with_body);
        Err(crate::ConnectorError::invalid_params(
            "this connector type cannot replicate its mailbox; set replication_config.enabled to false",
        ))
    }

    /// Context store: whether a message belongs to the replication of `scope`, whose labels
    /// resolved to `label_ids` (a message that left it is removed from the store).
    fn replica_in_scope(
        &self,
        message: &ReplicaMessage,
        scope: &ReplicaScope,
        label_ids: &[String],
    ) -> bool {
        let _ = (message, scope, label_ids);
        true
    }

    /// Context store: labels a search leaves out unless it names them (Gmail: SPAM, TRASH).
    fn replica_hidden_labels(&self) -> &'static [&'static str] {
        &[]
    }
}

/// What a push subscription points at.
#[derive(Debug, Clone, Default)]
pub struct PushTarget {
    /// Gmail: `projects/P/topics/T`.
    pub topic: Option<String>,
    /// Graph: the notification URL (and the lifecycle URL) with the clientState secret.
    pub notification_url: Option<String>,
    pub lifecycle_url: Option<String>,
    pub client_state: Option<String>,
}

/// A started push subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// What the provider's notifications name it by (Graph: the subscription id; Gmail: the
    /// mailbox address).
    pub id: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

/// One read of changes.
#[derive(Debug, Clone, Default)]
pub struct ChangePage {
    pub kind: PageKind,
    pub changes: Vec<MailChange>,
    /// Where to read from next time.
    pub cursor: String,
    /// Read again at once.
    pub more: bool,
}

/// What a page is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PageKind {
    /// Changes since the cursor.
    #[default]
    Incremental,
    /// The first read: remember these messages, they are not news.
    Baseline,
    /// The cursor had expired: the mailbox as it is now. Unknown messages are new, known ones
    /// whose version moved changed; with `complete`, known messages that are absent were
    /// deleted.
    Resync { complete: bool },
}

/// One change to one message.
#[derive(Debug, Clone, PartialEq)]
pub struct MailChange {
    pub kind: ChangeKind,
    pub message_id: String,
    pub thread_id: Option<String>,
    /// Gmail label ids; Outlook: the folder, then the categories.
    pub labels: Vec<String>,
    /// The message's state as far as events care (labels, read state, folder): two changes with
    /// the same version are one. `None` when the provider does not say (a deletion).
    pub version: Option<String>,
    /// The message is one the user sent.
    pub sent: bool,
    /// When the provider gave it along.
    pub summary: Option<MessageSummary>,
}

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The provider says it is new.
    Added,
    /// The provider says it changed.
    Changed,
    Deleted,
    /// It is there (a listing, or a delta entry that does not say new or changed): new if the
    /// server does not know it, changed if its version moved.
    Present,
}

/// The short form of a message that an event carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageSummary {
    /// `Name <address>` or the bare address.
    pub from: Option<String>,
    pub subject: Option<String>,
    pub snippet: Option<String>,
    /// Only when asked for.
    pub body_text: Option<String>,
}

impl MessageSummary {
    /// From a connector's message record (`from: {name, email}`, `subject`, `snippet`, `text`).
    pub fn from_record(v: &Value, with_body: bool) -> MessageSummary {
        let from = v.get("from").and_then(|f| {
            let email = f.get("email").and_then(Value::as_str)?;
            Some(match f.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => format!("{n} <{email}>"),
                _ => email.to_string(),
            })
        });
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        MessageSummary {
            from,
            subject: text("subject"),
            snippet: text("snippet").map(|s| truncate(&s, 200)),
            body_text: if with_body { text("text") } else { None },
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_summary_reads_the_connectors_record_and_keeps_the_body_only_when_asked() {
        let rec = json!({"from": {"name": "Ada", "email": "ada@example.com"},
            "subject": "Hi", "snippet": "x".repeat(300), "text": "body"});
        let s = MessageSummary::from_record(&rec, false);
        assert_eq!(s.from.as_deref(), Some("Ada <ada@example.com>"));
        assert_eq!(s.subject.as_deref(), Some("Hi"));
        assert_eq!(s.snippet.unwrap().chars().count(), 200);
        assert_eq!(s.body_text, None);
        let s = MessageSummary::from_record(&rec, true);
        assert_eq!(s.body_text.as_deref(), Some("body"));
        let bare = MessageSummary::from_record(&json!({"from": {"email": "b@x"}}), false);
        assert_eq!(bare.from.as_deref(), Some("b@x"));
    }
}
