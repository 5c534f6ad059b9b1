//! Outlook's mailbox changes for the server's events ([`connector_core::changes`]): message
//! `delta` of the inbox and of Sent Items; the cursor holds one delta token per folder. Graph's
//! delta does not say whether a message is new or changed ([`ChangeKind::Present`]: the server
//! knows which messages it has seen), and a message moved out of a folder is `removed` from that
//! folder's delta like a deleted one. An expired token (410, `sync_required`) turns into a new
//! full round of every folder: a resync.

use async_trait::async_trait;
use connector_core::changes::{
    Actions, ChangeKind, ChangePage, MailChange, MailChanges, MessageSummary, PageKind, Push,
    PushTarget,
};
use connector_core::replica::Replica;
use connector_core::{ConnectorError, ErrorCode, Result};
use serde_json::{json, Map, Value};

/// Outlook's [`MailChanges`].
#[derive(Debug)]
pub struct OutlookChanges;

pub static CHANGES: OutlookChanges = OutlookChanges;

/// The folders followed, and whether their messages are ones the user sent.
const FOLDERS: &[(&str, bool)] = &[("inbox", false), ("sentitems", true)];
/// Pages of one folder's round at most per read.
const MAX_PAGES: usize = 200;

fn change(record: &Value, folder: &str, sent: bool) -> Option<MailChange> {
    let id = record.get("id")?.as_str()?.to_string();
    if record.get("removed").and_then(Value::as_bool) == Some(true) {
        return Some(MailChange {
            kind: ChangeKind::Deleted,
            message_id: id,
            thread_id: None,
            labels: vec![folder.to_string()],
            version: None,
            sent,
            summary: None,
        });
    }
    if record.get("is_draft").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let mut categories: Vec<String> = record
        .get("categories")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    categories.sort();
    let read = record.get("is_read").and_then(Value::as_bool) == Some(true);
    let flag = record
        .get("flag")
        .and_then(Value::as_str)
        .unwrap_or("notFlagged");
    let version = format!("{folder}|read={read}|flag={flag}|{}", categories.join(","));
    let mut labels = vec![folder.to_string()];
    labels.extend(categories);
    Some(MailChange {
        kind: ChangeKind::Present,
        message_id: id,
        thread_id: record
            .get("thread_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        labels,
        version: Some(version),
        sent,
        summary: Some(MessageSummary::from_record(record, false)),
    })
}

/// One folder's delta round from `token` (None: a full round) to its new delta token.
async fn round(
    api: &dyn Actions,
    folder: &str,
    sent: bool,
    token: Option<&str>,
    into: &mut Vec<MailChange>,
) -> Result<String> {
    let mut params = match token {
        Some(t) => json!({"delta_token": t, "top": 200}),
        None => json!({"folder": folder, "top": 200}),
    };
    for _ in 0..MAX_PAGES {
        let out = api.run("messages", "delta", params).await?;
        for r in out.result.as_array().into_iter().flatten() {
            into.extend(change(r, folder, sent));
        }
        if let Some(t) = out.metadata.get("delta_token").and_then(Value::as_str) {
            return Ok(t.to_string());
        }
        let Some(next) = out.metadata.get("next_page_token").and_then(Value::as_str) else {
            return Err(ConnectorError::internal(
                "messages.delta ended without a delta token",
            ));
        };
        params = json!({"page_token": next, "top": 200});
    }
    Err(ConnectorError::new(
        ErrorCode::ProviderUnavailable,
        "the folder's delta round did not finish; it will be read again",
    ))
}

impl OutlookChanges {
    async fn full(&self, api: &dyn Actions, kind: PageKind) -> Result<ChangePage> {
        let mut changes = Vec::new();
        let mut cursor = Map::new();
        for (folder, sent) in FOLDERS {
            let t = round(api, folder, *sent, None, &mut changes).await?;
            cursor.insert((*folder).into(), json!(t));
        }
        Ok(ChangePage {
            kind,
            changes,
            cursor: Value::Object(cursor).to_string(),
            more: false,
        })
    }
}

#[async_trait]
impl MailChanges for OutlookChanges {
    /// Graph's calendarView delta follows a window fixed at the first sync: 30 days back,
    /// a year ahead.
    fn calendar(&self) -> Option<connector_core::changes::CalendarFollow> {
        Some(connector_core::changes::CalendarFollow {
            window_days: Some((30, 365)),
        })
    }

    async fn read(&self, api: &dyn Actions, cursor: Option<&str>) -> Result<ChangePage> {
        let Some(cursor) = cursor else {
            return self.full(api, PageKind::Baseline).await;
        };
        let tokens: Map<String, Value> = serde_json::from_str(cursor).unwrap_or_default();
        let mut changes = Vec::new();
        let mut next = Map::new();
        for (folder, sent) in FOLDERS {
            let token = tokens.get(*folder).and_then(Value::as_str);
            match round(api, folder, *sent, token, &mut changes).await {
                Ok(t) => {
                    next.insert((*folder).into(), json!(t));
                }
                Err(e) if e.code == ErrorCode::SyncRequired => {
                    return self.full(api, PageKind::Resync { complete: true }).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(ChangePage {
            kind: PageKind::Incremental,
            changes,
            cursor: Value::Object(next).to_string(),
            more: false,
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
        let out = api
            .run("messages", "get_many", json!({"message_ids": ids}))
            .await?;
        let records = out.result.as_array().cloned().unwrap_or_default();
        Ok(ids
            .iter()
            .map(|id| {
                records
                    .iter()
                    .find(|r| {
                        r.get("id").and_then(Value::as_str) == Some(id) && r.get("error").is_none()
                    })
                    .map(|r| MessageSummary::from_record(r, with_body))
            })
            .collect())
    }

    /// A subscription on every folder's messages (created, updated, deleted), with the
    /// target's lifecycle URL and clientState, for [`SUBSCRIPTION_MINUTES`].
    async fn start_push(&self, api: &dyn Actions, target: &PushTarget) -> Result<Option<Push>> {
        let Some(url) = &target.notification_url else {
            return Ok(None);
        };
        let mut params = json!({
            "folder": "all",
            "notification_url": url,
            "change_types": ["created", "updated", "deleted"],
            "expiration_minutes": SUBSCRIPTION_MINUTES,
        });
        if let Some(l) = &target.lifecycle_url {
            params["lifecycle_notification_url"] = json!(l);
        }
        if let Some(s) = &target.client_state {
            params["client_state"] = json!(s);
        }
        let out = api.run("subscriptions", "create", params).await?;
        Ok(Some(push(&out.result)))
    }

    /// `PATCH` of the expiration; a subscription Graph no longer has (404) is made anew.
    async fn renew_push(
        &self,
        api: &dyn Actions,
        target: &PushTarget,
        id: &str,
    ) -> Result<Option<Push>> {
        let params = json!({"subscription_id": id, "expiration_minutes": SUBSCRIPTION_MINUTES});
        match api.run("subscriptions", "renew", params).await {
            Ok(out) => Ok(Some(push(&out.result))),
            Err(e) if e.code == ErrorCode::NotFound => self.start_push(api, target).await,
            Err(e) => Err(e),
        }
    }

    fn replica(&self) -> Option<&dyn Replica> {
        Some(&crate::replica::OutlookReplica)
    }
}

/// How long the server's subscriptions are asked to last: three days (Outlook message
/// subscriptions may last up to 10,080 minutes; they are renewed daily).
pub const SUBSCRIPTION_MINUTES: i64 = 4320;

fn push(result: &Value) -> Push {
    Push {
        id: result
            .get("subscription_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        expires_at: result
            .get("expiration")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_records_become_present_or_deleted_with_a_version_of_what_events_care_about() {
        let rec = json!({"id": "m1", "thread_id": "c1", "subject": "Hi", "is_read": false,
            "categories": ["b", "a"], "flag": "flagged", "from": {"email": "x@y"}});
        let c = change(&rec, "inbox", false).unwrap();
        assert_eq!(c.kind, ChangeKind::Present);
        assert_eq!(
            c.version.as_deref(),
            Some("inbox|read=false|flag=flagged|a,b")
        );
        assert_eq!(c.labels, ["inbox", "a", "b"]);
        assert_eq!(c.summary.unwrap().subject.as_deref(), Some("Hi"));
        let gone = change(&json!({"id": "m1", "removed": true}), "inbox", false).unwrap();
        assert_eq!(gone.kind, ChangeKind::Deleted);
        assert!(change(&json!({"id": "d", "is_draft": true}), "sentitems", true).is_none());
    }
}
