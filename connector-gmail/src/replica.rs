//! Gmail for the server's context store ([`connector_core::replica`]): the backfill lists
//! message ids (`messages.list`, one label after the other when the scope names labels) and
//! reads them through `messages.get_many`, which paces itself for the user's quota and
//! concurrency limit; the checkpoint is the label index and Gmail's page token. Drafts are
//! left out, like the mailbox events leave them out.

use async_trait::async_trait;
use connector_core::changes::Actions;
use connector_core::replica::{
    read_many, Replica, ReplicaMessage, ReplicaPage, ReplicaScope, WalkCheckpoint,
};
use connector_core::Result;
use serde_json::{json, Value};

/// Ids per backfill page (one checkpoint per page).
const PAGE: u32 = 100;

/// Labels a search leaves out unless it names them.
pub const HIDDEN: &[&str] = &["SPAM", "TRASH"];

fn from_record(r: &Value, with_body: bool) -> Option<ReplicaMessage> {
    let mut m = ReplicaMessage::from_record(r, with_body)?;
    m.labels = r
        .get("label_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    m.is_read = !m.labels.iter().any(|l| l == "UNREAD");
    Some(m)
}

/// What Gmail gives the context store (named by [`crate::events::GmailChanges`]).
pub struct GmailReplica;

#[async_trait]
impl Replica for GmailReplica {
    /// Reads messages (format full: recipients, attachments and the text); `None` for the gone.
    async fn get(
        &self,
        api: &dyn Actions,
        ids: &[String],
        with_body: bool,
    ) -> Result<Vec<Option<ReplicaMessage>>> {
        read_many(
            api,
            ids,
            json!({"message_ids": ids, "format": "full"}),
            |r| from_record(r, with_body),
        )
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
        let walks = scope.labels.len().max(1);
        let mut q = vec!["-in:drafts".to_string()];
        if let Some(s) = scope.since_ms {
            q.push(format!("after:{}", s / 1000));
        }
        let mut params = json!({
            "max_results": PAGE,
            "ids_only": true,
            "q": q.join(" "),
            "include_spam_trash": scope.include_spam_trash,
        });
        if let Some(l) = scope.labels.get(at.index) {
            params["label_ids"] = json!([l]);
        }
        if let Some(t) = &at.page_token {
            params["page_token"] = json!(t);
        }
        let out = api.run("messages", "list", params).await?;
        let ids: Vec<String> = out
            .result
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let messages = self
            .get(api, &ids, scope.with_body)
            .await?
            .into_iter()
            .flatten()
            .filter(|m| self.in_scope(m, scope, &scope.labels))
            .collect();
        let token = out
            .metadata
            .get("next_page_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(ReplicaPage {
            messages,
            next: at.after(token, walks),
        })
    }

    /// Whether a message belongs to the replication.
    fn in_scope(&self, m: &ReplicaMessage, scope: &ReplicaScope, labels: &[String]) -> bool {
        let has = |l: &str| m.labels.iter().any(|x| x == l);
        if has("DRAFT") {
            return false;
        }
        if !scope.include_spam_trash && HIDDEN.iter().any(|l| has(l)) {
            return false;
        }
        if scope.since_ms.is_some_and(|s| m.received_ms < s) {
            return false;
        }
        labels.is_empty() || labels.iter().any(|l| has(l))
    }

    fn hidden_labels(&self) -> &'static [&'static str] {
        HIDDEN
    }
}
