//! What a provider gives the server's context store (issue 23): the mailbox copied page by page
//! (a resumable backfill: the provider's page token is the checkpoint) and single messages read
//! again when the mailbox events say they changed. The provider crates implement [`Replica`]
//! and return it from their [`crate::changes::MailChanges::replica`] (the value their
//! descriptor already names), so the server knows no provider by name.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::changes::{Actions, MailChanges};
use crate::{ConnectorError, Result};

/// How a provider copies its mailbox into the context store.
#[async_trait]
pub trait Replica: Send + Sync {
    /// The labels/folders of `scope` as the provider's ids (`(as configured, id)`), which the
    /// replicated messages carry. The default: as configured.
    async fn labels(
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

    /// One page of the backfill of `scope` from `checkpoint` (`None`: the start).
    async fn page(
        &self,
        api: &dyn Actions,
        scope: &ReplicaScope,
        checkpoint: Option<&str>,
    ) -> Result<ReplicaPage>;

    /// Messages read again (after a change), in the order of `ids`; `None` for a message that
    /// is gone.
    async fn get(
        &self,
        api: &dyn Actions,
        ids: &[String],
        with_body: bool,
    ) -> Result<Vec<Option<ReplicaMessage>>>;

    /// Whether a message belongs to the replication of `scope`, whose labels resolved to
    /// `label_ids` (a message that left it is removed from the store).
    fn in_scope(
        &self,
        message: &ReplicaMessage,
        scope: &ReplicaScope,
        label_ids: &[String],
    ) -> bool;

    /// Labels a search leaves out unless it names them (Gmail: SPAM, TRASH).
    fn hidden_labels(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Reads messages again through the connector's own `messages.get_many` (called with
/// `params`), each record made a [`ReplicaMessage`] by `read`; a message that is gone
/// (`not_found`, 404) is `None`, any other failure of one message fails the read.
pub async fn read_many(
    api: &dyn Actions,
    ids: &[String],
    params: Value,
    read: impl Fn(&Value) -> Option<ReplicaMessage> + Send,
) -> Result<Vec<Option<ReplicaMessage>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = api.run("messages", "get_many", params).await?;
    let records = out.result.as_array().cloned().unwrap_or_default();
    let mut got = Vec::with_capacity(ids.len());
    for (id, r) in ids.iter().zip(records.iter()) {
        if r.get("id").and_then(Value::as_str) != Some(id.as_str()) {
            return Err(ConnectorError::internal(
                "messages.get_many answered out of order",
            ));
        }
        match r.get("error") {
            None => got.push(read(r)),
            Some(e) if e.get("code").and_then(Value::as_str) == Some("not_found") => got.push(None),
            Some(e) if e.get("status").and_then(Value::as_i64) == Some(404) => got.push(None),
            Some(e) => {
                return Err(ConnectorError::new(
                    crate::ErrorCode::ProviderUnavailable,
                    format!("reading message {id} for the context store failed: {e}"),
                ))
            }
        }
    }
    Ok(got)
}

/// The [`Replica`] of a connector type's mailbox changes, or the error that says replication
/// cannot be asked of this type.
pub fn of(changes: Option<&'static dyn MailChanges>) -> Result<&'static dyn Replica> {
    changes.and_then(|c| c.replica()).ok_or_else(|| {
        ConnectorError::invalid_params(
            "this connector type cannot replicate its mailbox; set replication_config.enabled to false",
        )
    })
}

/// What a connector's replication covers (from its `replication_config`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaScope {
    /// Gmail label ids / Outlook folders; empty: the provider's default (Gmail: all mail;
    /// Outlook: inbox and sentitems).
    pub labels: Vec<String>,
    /// Only mail received at or after this (unix ms).
    pub since_ms: Option<i64>,
    pub include_spam_trash: bool,
    /// Keep the plain-text body.
    pub with_body: bool,
}

/// One page of a backfill.
#[derive(Debug, Clone, Default)]
pub struct ReplicaPage {
    pub messages: Vec<ReplicaMessage>,
    /// The checkpoint to read the next page from; `None` when the backfill is complete.
    pub next: Option<String>,
}

/// A message as the context store keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaMessage {
    pub id: String,
    pub thread_id: Option<String>,
    pub subject: Option<String>,
    pub from_name: Option<String>,
    pub from_email: Option<String>,
    /// `Name <address>` of each recipient.
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Received time, unix ms.
    pub received_ms: i64,
    /// Gmail label ids; Outlook: the folder id, then the categories.
    pub labels: Vec<String>,
    pub is_read: bool,
    pub has_attachments: bool,
    /// `(file name, size in bytes)` of each attachment.
    pub attachments: Vec<(String, i64)>,
    pub snippet: Option<String>,
    /// Only when the scope asks for bodies.
    pub body_text: Option<String>,
    pub size: Option<i64>,
}

fn address(v: &Value) -> Option<String> {
    let email = v.get("email").and_then(Value::as_str)?;
    Some(match v.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => format!("{n} <{email}>"),
        _ => email.to_string(),
    })
}

fn addresses(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(address).collect())
        .unwrap_or_default()
}

impl ReplicaMessage {
    /// The fields every connector's message record shares (`subject`, `from: {name, email}`,
    /// `to`/`cc` arrays of the same, `snippet`, `text`, `internal_date` as RFC 3339,
    /// `attachments: [{filename, size, inline}]`); labels, read state and the attachment flag
    /// are the provider's to fill in.
    pub fn from_record(v: &Value, with_body: bool) -> Option<ReplicaMessage> {
        let id = v.get("id")?.as_str()?.to_string();
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let received_ms = v
            .get("internal_date")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
            .unwrap_or(0);
        let attachments: Vec<(String, i64)> = v
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| a.get("inline").and_then(Value::as_bool) != Some(true))
            .filter_map(|a| {
                Some((
                    a.get("filename")?.as_str()?.to_string(),
                    a.get("size").and_then(Value::as_i64).unwrap_or(0),
                ))
            })
            .collect();
        let from = v.get("from").filter(|f| f.is_object());
        Some(ReplicaMessage {
            id,
            thread_id: text("thread_id").filter(|t| !t.is_empty()),
            subject: text("subject"),
            from_name: from
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            from_email: from
                .and_then(|f| f.get("email"))
                .and_then(Value::as_str)
                .map(str::to_string),
            to: addresses(v.get("to")),
            cc: addresses(v.get("cc")),
            received_ms,
            labels: Vec::new(),
            is_read: false,
            has_attachments: !attachments.is_empty(),
            attachments,
            snippet: text("snippet"),
            body_text: if with_body { text("text") } else { None },
            size: v.get("size_estimate").and_then(Value::as_i64),
        })
    }
}

/// A checkpoint of a backfill that walks labels or folders one after the other.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalkCheckpoint {
    /// Which label/folder of the scope's list.
    pub index: usize,
    /// The provider's page token within it.
    pub page_token: Option<String>,
}

impl WalkCheckpoint {
    pub fn parse(checkpoint: Option<&str>) -> crate::Result<WalkCheckpoint> {
        match checkpoint {
            None => Ok(WalkCheckpoint::default()),
            Some(c) => serde_json::from_str(c).map_err(|_| {
                crate::ConnectorError::internal("a stored backfill checkpoint does not read")
            }),
        }
    }

    /// The checkpoint after a page of the walk over `count` labels that ended with
    /// `next_page_token`; `None` when the walk is done.
    pub fn after(&self, next_page_token: Option<String>, count: usize) -> Option<String> {
        let next = match next_page_token {
            Some(t) => WalkCheckpoint {
                index: self.index,
                page_token: Some(t),
            },
            None if self.index + 1 < count => WalkCheckpoint {
                index: self.index + 1,
                page_token: None,
            },
            None => return None,
        };
        Some(serde_json::to_string(&next).expect("a checkpoint serializes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_becomes_a_replica_message_and_keeps_the_body_only_when_asked() {
        let rec = json!({"id": "m1", "thread_id": "t1", "subject": "Hi",
            "from": {"name": "Ada", "email": "ada@example.com"},
            "to": [{"name": null, "email": "bob@example.com"}], "cc": [],
            "internal_date": "1970-01-01T00:00:02Z", "snippet": "s", "text": "secret",
            "attachments": [{"filename": "a.pdf", "size": 3, "inline": false},
                            {"filename": "logo.png", "size": 1, "inline": true}]});
        let m = ReplicaMessage::from_record(&rec, false).unwrap();
        assert_eq!(m.to, ["bob@example.com"]);
        assert_eq!(m.received_ms, 2000);
        assert_eq!(m.attachments, [("a.pdf".to_string(), 3)]);
        assert!(m.has_attachments);
        assert_eq!(m.body_text, None);
        assert_eq!(
            ReplicaMessage::from_record(&rec, true)
                .unwrap()
                .body_text
                .as_deref(),
            Some("secret")
        );
    }

    #[test]
    fn a_walk_goes_page_by_page_then_label_by_label() {
        let c = WalkCheckpoint::parse(None).unwrap();
        let next = c.after(Some("p2".into()), 2).unwrap();
        let c = WalkCheckpoint::parse(Some(&next)).unwrap();
        assert_eq!((c.index, c.page_token.as_deref()), (0, Some("p2")));
        let next = c.after(None, 2).unwrap();
        let c = WalkCheckpoint::parse(Some(&next)).unwrap();
        assert_eq!((c.index, c.page_token.as_deref()), (1, None));
        assert_eq!(c.after(None, 2), None);
    }
}
