//! Gmail for the server's context store ([`connector_core::replica`]): the backfill lists
//! message ids (`messages.list`, one label after the other when the scope names labels) and
//! reads them through `messages.get_many`, which paces itself for the user's quota and
//! concurrency limit; the checkpoint is the label index and Gmail's page token. Drafts are
//! left out, like the mailbox events leave them out.

use connector_core::changes::Actions;
use connector_core::replica::{ReplicaMessage, ReplicaPage, ReplicaScope, WalkCheckpoint};
use connector_core::{ConnectorError, ErrorCode, Result};
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

/// Reads messages (format full: recipients, attachments and the text); `None` for the gone.
pub async fn get(
    api: &dyn Actions,
    ids: &[String],
    with_body: bool,
) -> Result<Vec<Option<ReplicaMessage>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = api
        .run(
            "messages",
            "get_many",
            json!({"message_ids": ids, "format": "full"}),
        )
        .await?;
    let records = out.result.as_array().cloned().unwrap_or_default();
    let mut got = Vec::with_capacity(ids.len());
    for (id, r) in ids.iter().zip(records.iter()) {
        if r.get("id").and_then(Value::as_str) != Some(id.as_str()) {
            return Err(ConnectorError::internal(
                "messages.get_many answered out of order",
            ));
        }
        match r.get("error") {
            None => got.push(from_record(r, with_body)),
            Some(e) if e.get("code").and_then(Value::as_str) == Some("not_found") => got.push(None),
            Some(e) if e.get("status").and_then(Value::as_i64) == Some(404) => got.push(None),
            Some(e) => {
                return Err(ConnectorError::new(
                    ErrorCode::ProviderUnavailable,
                    format!("reading message {id} for the context store failed: {e}"),
                ))
            }
        }
    }
    Ok(got)
}

/// One page of the backfill.
pub async fn page(
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
    let messages = get(api, &ids, scope.with_body)
        .await?
        .into_iter()
        .flatten()
        .filter(|m| in_scope(m, scope, &scope.labels))
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
pub fn in_scope(m: &ReplicaMessage, scope: &ReplicaScope, labels: &[String]) -> bool {
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
