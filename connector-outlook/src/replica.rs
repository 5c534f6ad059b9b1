//! Outlook for the server's context store ([`connector_core::replica`]): the backfill walks the
//! scope's folders (inbox and Sent Items unless configured) with `messages.list`, which gives
//! every stored field in pages of up to 1,000 (attachment names come only with messages read
//! again after a change: the list gives the flag); the checkpoint is the folder index and
//! Graph's page token. Messages carry their folder's id, so configured folder names are
//! resolved to ids first.

use async_trait::async_trait;
use connector_core::changes::Actions;
use connector_core::replica::{
    read_many, Replica, ReplicaMessage, ReplicaPage, ReplicaScope, WalkCheckpoint,
};
use connector_core::{ConnectorError, Result};
use serde_json::{json, Value};

/// Messages per backfill page (one checkpoint per page).
const PAGE: u32 = 500;

/// The folders of a scope.
pub fn folders(scope: &ReplicaScope) -> Vec<String> {
    if !scope.labels.is_empty() {
        return scope.labels.clone();
    }
    let mut f = vec!["inbox".to_string(), "sentitems".to_string()];
    if scope.include_spam_trash {
        f.extend(["junkemail".to_string(), "deleteditems".to_string()]);
    }
    f
}

fn from_record(r: &Value, with_body: bool) -> Option<ReplicaMessage> {
    if r.get("is_draft").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let mut m = ReplicaMessage::from_record(r, with_body)?;
    m.labels = r
        .get("folder_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .into_iter()
        .collect();
    m.labels.extend(
        r.get("categories")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string)),
    );
    m.is_read = r.get("is_read").and_then(Value::as_bool).unwrap_or(false);
    m.has_attachments = r
        .get("has_attachments")
        .and_then(Value::as_bool)
        .unwrap_or(!m.attachments.is_empty());
    Some(m)
}

/// What Outlook gives the context store (named by the connector's mailbox changes).
pub struct OutlookReplica;

#[async_trait]
impl Replica for OutlookReplica {
    /// `(configured name, folder id)` of the scope's folders.
    async fn labels(
        &self,
        api: &dyn Actions,
        scope: &ReplicaScope,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for f in folders(scope) {
            let got = api.run("mail_folders", "get", json!({"folder": f})).await?;
            let id = got
                .result
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| ConnectorError::internal("mail_folders.get gave no id"))?;
            out.push((f, id.to_string()));
        }
        Ok(out)
    }

    /// Reads messages again; `None` for the gone.
    async fn get(
        &self,
        api: &dyn Actions,
        ids: &[String],
        with_body: bool,
    ) -> Result<Vec<Option<ReplicaMessage>>> {
        read_many(api, ids, json!({"message_ids": ids}), |r| {
            from_record(r, with_body)
        })
        .await
    }

    /// One page of the backfill.
    async fn page(
        &self,
        api: &dyn Actions,
        scope: &ReplicaScope,
        checkpoint: Option<&str>,
    ) -> Result<ReplicaPage> {
        let at = WalkCheckpoint::parse(checkpoint)?;
        let walk = folders(scope);
        let params = match &at.page_token {
            Some(t) => json!({"page_token": t}),
            None => {
                let mut select = vec![
                    "subject",
                    "from",
                    "to",
                    "cc",
                    "internal_date",
                    "snippet",
                    "is_read",
                    "is_draft",
                    "categories",
                    "folder_id",
                    "has_attachments",
                ];
                if scope.with_body {
                    select.push("body");
                }
                let mut p = json!({
                    "folder": walk.get(at.index).cloned().unwrap_or_else(|| "inbox".into()),
                    "top": PAGE,
                    "select": select,
                });
                if let Some(s) = scope.since_ms.and_then(connector_core::search::rfc3339_ms) {
                    p["received_after"] = json!(s);
                }
                p
            }
        };
        let out = api.run("messages", "list", params).await?;
        let messages = out
            .result
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| from_record(r, scope.with_body))
            .collect();
        let token = out
            .metadata
            .get("next_page_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(ReplicaPage {
            messages,
            next: at.after(token, walk.len()),
        })
    }

    /// Whether a message belongs to the replication: in one of the scope's folders (by id).
    fn in_scope(&self, m: &ReplicaMessage, scope: &ReplicaScope, folder_ids: &[String]) -> bool {
        if scope.since_ms.is_some_and(|s| m.received_ms < s) {
            return false;
        }
        m.labels
            .first()
            .is_some_and(|f| folder_ids.iter().any(|id| id == f))
    }
}
