//! Gmail's mailbox changes for the server's events ([`connector_core::changes`]): the cursor is
//! a history id, read with `history.list`; an expired one (`sync_required`) turns into a listing
//! of the mailbox (a resync). Drafts are not mail events and are left out.

use async_trait::async_trait;
use connector_core::changes::{
    Actions, ChangeKind, ChangePage, MailChange, MailChanges, MessageSummary, PageKind, Push,
    PushTarget,
};
use connector_core::replica::Replica;
use connector_core::{ConnectorError, ErrorCode, Result};
use serde_json::{json, Value};

/// Gmail's [`MailChanges`].
#[derive(Debug)]
pub struct GmailChanges;

pub static CHANGES: GmailChanges = GmailChanges;

/// History records per read.
const PAGE: u32 = 500;
/// Messages listed by a resync at most (pages of 500).
const RESYNC_PAGES: usize = 20;

fn ids(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn change(kind: ChangeKind, message: &Value) -> Option<MailChange> {
    let id = message.get("id")?.as_str()?.to_string();
    let mut labels = ids(message, "label_ids");
    if labels.iter().any(|l| l == "DRAFT") {
        return None;
    }
    labels.sort();
    let version = (kind != ChangeKind::Deleted).then(|| labels.join(","));
    Some(MailChange {
        kind,
        sent: labels.iter().any(|l| l == "SENT") && !labels.iter().any(|l| l == "INBOX"),
        message_id: id,
        thread_id: message
            .get("thread_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        labels,
        version,
        summary: None,
    })
}

/// The changes of history records, oldest first.
fn from_history(records: &[Value]) -> Vec<MailChange> {
    let mut out = Vec::new();
    for r in records {
        for (key, kind) in [
            ("messages_added", ChangeKind::Added),
            ("labels_added", ChangeKind::Changed),
            ("labels_removed", ChangeKind::Changed),
            ("messages_deleted", ChangeKind::Deleted),
        ] {
            for item in r.get(key).and_then(Value::as_array).into_iter().flatten() {
                if let Some(c) = item.get("message").and_then(|m| change(kind, m)) {
                    out.push(c);
                }
            }
        }
    }
    out
}

fn history_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl GmailChanges {
    async fn now(&self, api: &dyn Actions) -> Result<String> {
        let profile = api.run("profile", "get", json!({})).await?;
        profile
            .result
            .get("history_id")
            .and_then(history_id)
            .ok_or_else(|| ConnectorError::internal("profile.get gave no history_id"))
    }

    /// The history id of now, and the ids of the messages already there (so that a later
    /// resync does not take them for new ones); their state is learnt at the first change.
    async fn baseline(&self, api: &dyn Actions) -> Result<ChangePage> {
        let cursor = self.now(api).await?;
        let mut changes = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..RESYNC_PAGES {
            let mut params = json!({"max_results": 500, "ids_only": true, "q": "-in:drafts"});
            if let Some(t) = &token {
                params["page_token"] = json!(t);
            }
            let out = api.run("messages", "list", params).await?;
            for id in out.result.as_array().into_iter().flatten() {
                let Some(id) = id.as_str() else { continue };
                changes.push(MailChange {
                    kind: ChangeKind::Present,
                    message_id: id.to_string(),
                    thread_id: None,
                    labels: Vec::new(),
                    version: None,
                    sent: false,
                    summary: None,
                });
            }
            token = out
                .metadata
                .get("next_page_token")
                .and_then(Value::as_str)
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(ChangePage {
            kind: PageKind::Baseline,
            changes,
            cursor,
            more: false,
        })
    }

    /// The mailbox as it is now (a resync), from the history id read before the listing.
    async fn listing(&self, api: &dyn Actions) -> Result<ChangePage> {
        let cursor = self.now(api).await?;
        let mut changes = Vec::new();
        let mut token: Option<String> = None;
        let mut complete = false;
        for _ in 0..RESYNC_PAGES {
            let mut params = json!({"max_results": 500});
            if let Some(t) = &token {
                params["page_token"] = json!(t);
            }
            let out = api.run("messages", "list", params).await?;
            for m in out.result.as_array().into_iter().flatten() {
                if let Some(mut c) = change(ChangeKind::Present, m) {
                    c.summary = Some(MessageSummary::from_record(m, false));
                    changes.push(c);
                }
            }
            token = out
                .metadata
                .get("next_page_token")
                .and_then(Value::as_str)
                .map(str::to_string);
            if token.is_none() {
                complete = true;
                break;
            }
        }
        Ok(ChangePage {
            kind: PageKind::Resync { complete },
            changes,
            cursor,
            more: false,
        })
    }
}

#[async_trait]
impl MailChanges for GmailChanges {
    /// Google's sync token follows the whole primary calendar (instances of series expanded).
    fn calendar(&self) -> Option<connector_core::changes::CalendarFollow> {
        Some(connector_core::changes::CalendarFollow { window_days: None })
    }

    async fn read(&self, api: &dyn Actions, cursor: Option<&str>) -> Result<ChangePage> {
        let Some(start) = cursor else {
            return self.baseline(api).await;
        };
        let params = json!({"start_history_id": start, "max_results": PAGE});
        let out = match api.run("history", "list", params).await {
            Ok(out) => out,
            Err(e) if e.code == ErrorCode::SyncRequired => return self.listing(api).await,
            Err(e) => return Err(e),
        };
        let records = out.result.as_array().cloned().unwrap_or_default();
        let more = out.metadata.get("next_page_token").is_some();
        // With more pages, continue after the last record read; else from the mailbox's id.
        let cursor = if more {
            records
                .last()
                .and_then(|r| r.get("id"))
                .and_then(history_id)
        } else {
            out.metadata.get("history_id").and_then(history_id)
        }
        .unwrap_or_else(|| start.to_string());
        Ok(ChangePage {
            kind: PageKind::Incremental,
            changes: from_history(&records),
            cursor,
            more,
        })
    }

    async fn summaries(
        &self,
        api: &dyn Actions,
        ids: &[String],
        with_body: bool,
    ) -> Result<Vec<Option<MessageSummary>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let format = if with_body { "full" } else { "metadata" };
        let out = api
            .run(
                "messages",
                "get_many",
                json!({"message_ids": ids, "format": format}),
            )
            .await?;
        let records = out.result.as_array().cloned().unwrap_or_default();
        Ok(ids
            .iter()
            .map(|id| {
                records
                    .iter()
                    .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
                    .map(|r| MessageSummary::from_record(r, with_body))
            })
            .collect())
    }

    async fn start_push(&self, api: &dyn Actions, target: &PushTarget) -> Result<Option<Push>> {
        let Some(topic) = &target.topic else {
            return Ok(None);
        };
        let out = api
            .run("watch", "start", json!({"topic_name": topic}))
            .await?;
        let expires_at = out
            .result
            .get("expiration")
            .and_then(history_id)
            .and_then(|ms| ms.parse::<i64>().ok())
            .map(|ms| ms / 1000);
        // Pub/Sub notifications name the mailbox by its address.
        let profile = api.run("profile", "get", json!({})).await?;
        Ok(Some(Push {
            id: profile
                .result
                .get("email_address")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase),
            expires_at,
        }))
    }

    fn replica(&self) -> Option<&dyn Replica> {
        Some(&crate::replica::GmailReplica)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_records_become_changes_oldest_first_without_drafts() {
        let records = vec![
            json!({"id": "5", "messages_added": [{"message": {"id": "m1", "thread_id": "t1", "label_ids": ["UNREAD", "INBOX"]}}]}),
            json!({"id": "6", "messages_added": [{"message": {"id": "d1", "thread_id": "t2", "label_ids": ["DRAFT"]}}]}),
            json!({"id": "7", "labels_removed": [{"message": {"id": "m1", "thread_id": "t1", "label_ids": ["INBOX"]}, "label_ids": ["UNREAD"]}]}),
            json!({"id": "8", "messages_added": [{"message": {"id": "s1", "thread_id": "t3", "label_ids": ["SENT"]}}]}),
            json!({"id": "9", "messages_deleted": [{"message": {"id": "m1", "thread_id": "t1", "label_ids": ["INBOX"]}}]}),
        ];
        let c = from_history(&records);
        let kinds: Vec<_> = c.iter().map(|c| (c.kind, c.message_id.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (ChangeKind::Added, "m1"),
                (ChangeKind::Changed, "m1"),
                (ChangeKind::Added, "s1"),
                (ChangeKind::Deleted, "m1"),
            ]
        );
        assert_eq!(c[0].version.as_deref(), Some("INBOX,UNREAD"));
        assert_eq!(c[1].version.as_deref(), Some("INBOX"));
        assert!(!c[0].sent && c[2].sent);
        assert_eq!(c[3].version, None);
    }
}
