//! `messages.search` from the context store: when the connector replicates and its backfill is
//! complete, the shared query ([`connector_core::search`]) is answered from the database;
//! otherwise the connector's own handler asks the provider. `metadata.source` says which.

use connector_core::search::{self, Hit, SearchParams};
use connector_core::{ConnectorError, Output};
use serde_json::{json, Value};

use super::{db, Plan};
use crate::registry::ConnectorType;
use crate::store::context::{StoreQuery, LIVE};
use crate::store::{ConnectorRow, Store};

/// Whether a call is the one the store can answer.
pub fn is_search(entity: &str, action: &str) -> bool {
    entity == "messages" && action == "search"
}

fn offset_of(token: Option<&str>) -> Result<i64, ConnectorError> {
    match token {
        None => Ok(0),
        Some(t) => t
            .strip_prefix("store:")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ConnectorError::invalid_params(
                    "`page_token` is not one this search gave (the context store answers this connector now): start again without page_token",
                )
            }),
    }
}

/// The store's answer, or `None` when the provider must answer (no replication, or its
/// backfill is not complete yet).
pub async fn from_store(
    store: &Store,
    kind: &ConnectorType,
    row: &ConnectorRow,
    params: &Value,
) -> Result<Option<Output>, ConnectorError> {
    if Plan::of(row).is_none() {
        return Ok(None);
    }
    let Some(sync) = store.context_sync(&row.id).await.map_err(db)? else {
        return Ok(None);
    };
    if sync.state != LIVE && sync.backfill_finished_at.is_none() {
        return Ok(None);
    }
    let spec = (kind.descriptor.spec)();
    spec.validate("messages", "search", params)?;
    let p: SearchParams = connector_core::params::params("messages.search", params.clone())?;
    // A label as configured (an Outlook folder name) means the id the messages carry.
    let label = p.label.as_ref().map(|l| {
        sync.folders
            .as_deref()
            .and_then(|f| serde_json::from_str::<Vec<(String, String)>>(f).ok())
            .and_then(|f| f.into_iter().find(|(name, _)| name.eq_ignore_ascii_case(l)))
            .map(|(_, id)| id)
            .unwrap_or_else(|| l.clone())
    });
    let hidden = kind
        .descriptor
        .changes
        .and_then(|c| c.replica())
        .map(|r| r.hidden_labels())
        .unwrap_or(&[])
        .iter()
        .map(|s| s.to_string())
        .collect();
    let limit = i64::from(p.max_results.clamp(1, 100));
    let offset = offset_of(p.page_token.as_deref())?;
    let lower = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_lowercase)
    };
    let q = StoreQuery {
        words: p.words(),
        from: lower(&p.from),
        to: lower(&p.to),
        cc: lower(&p.cc),
        subject: lower(&p.subject),
        label,
        hidden,
        is_read: p.is_read,
        has_attachments: p.has_attachment,
        after_ms: p.after_ms()?,
        before_ms: p.before_ms()?,
        thread_id: p.thread_id.clone(),
        limit: limit + 1,
        offset,
        rank_window: None,
    };
    let mut hits = store.context_search(&row.id, &q).await.map_err(db)?;
    let more = hits.len() as i64 > limit;
    hits.truncate(limit as usize);
    let result: Vec<Value> = hits
        .into_iter()
        .map(|h| {
            let mut v = Hit {
                id: h.message_id,
                thread_id: h.thread_id,
                subject: h.subject,
                from: h
                    .from_email
                    .map(|e| json!({"name": h.from_name, "email": e})),
                date: search::rfc3339_ms(h.date_ms),
                snippet: h.snippet,
                labels: h.labels,
                is_read: h.is_read,
                has_attachments: h.has_attachments,
            }
            .to_value();
            if let Some(hl) = h.highlight {
                v["highlight"] = Value::String(hl);
            }
            v
        })
        .collect();
    let mut out = Output::new(Value::Array(result))
        .with_meta("source", "store")
        .with_meta("replication_state", sync.state.clone());
    if more {
        out = out.with_meta("next_page_token", format!("store:{}", offset + limit));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_page_tokens_are_offsets_and_others_are_refused() {
        assert_eq!(offset_of(None).unwrap(), 0);
        assert_eq!(offset_of(Some("store:40")).unwrap(), 40);
        let e = offset_of(Some("CAEQ")).unwrap_err();
        assert!(e.message.contains("page_token"), "{}", e.message);
    }
}
