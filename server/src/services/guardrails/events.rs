//! `approval.requested` and `approval.decided` in the connector's event outbox (delivered to
//! the organization's webhook, listed in the feed), like status changes.

use api_types::guardrails::{ApprovalEvent, APPROVAL_DECIDED, APPROVAL_REQUESTED};

use crate::store::guardrails::ApprovalRow;
use crate::store::Store;

/// Writes `approval.requested`; a failure is logged (the approval stands without its event).
pub async fn requested(store: &Store, row: &ApprovalRow) {
    if let Err(e) = write(store, row, APPROVAL_REQUESTED, None, None).await {
        tracing::warn!(approval_id = %row.id, error = %e, "writing approval.requested failed");
    }
}

/// Writes `approval.decided`.
pub async fn decided(store: &Store, row: &ApprovalRow, decision: &str, by: &str) {
    if let Err(e) = write(store, row, APPROVAL_DECIDED, Some(decision), Some(by)).await {
        tracing::warn!(approval_id = %row.id, error = %e, "writing approval.decided failed");
    }
}

async fn write(
    store: &Store,
    row: &ApprovalRow,
    kind: &str,
    decision: Option<&str>,
    by: Option<&str>,
) -> Result<(), sqlx::Error> {
    let deliver = store
        .org_settings(&row.organization_id)
        .await?
        .webhook_url
        .is_some();
    let Some(mut tx) = store
        .begin_events(&row.connector_id, &row.organization_id, None)
        .await?
    else {
        return Ok(());
    };
    let seq = tx.next_seq();
    // Stable per approval and kind: a replay of the same decision is the same event.
    let id = format!("evt_{}_{}", row.id, kind.rsplit('.').next().unwrap_or(kind));
    if tx.has_event(&id).await? {
        return Ok(());
    }
    let body = ApprovalEvent {
        id: id.clone(),
        kind: kind.to_string(),
        created_at: crate::store::now(),
        organization_id: row.organization_id.clone(),
        connector_id: row.connector_id.clone(),
        approval_id: row.id.clone(),
        decision: decision.map(str::to_string),
        decided_by: by.map(str::to_string),
        content_hash: row.content_hash.clone(),
        sequence: seq,
    };
    let body = serde_json::to_string(&body).expect("an event serializes");
    tx.insert(crate::store::events::NewEvent {
        id: &id,
        kind,
        body: &body,
        seq,
        deliver,
    })
    .await?;
    tx.commit(None).await?;
    crate::services::events::WRITTEN.notify_waiters();
    Ok(())
}
