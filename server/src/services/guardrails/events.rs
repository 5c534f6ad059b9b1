//! `approval.requested` and `approval.decided` in the connector's event outbox (delivered to
//! the organization's webhook, listed in the feed), like status changes. Each is written in
//! the same transaction as the change it reports: an approval is never stored without its
//! event, nor its event without it, and the two cost one commit (one `fsync` on SQLite).

use api_types::guardrails::{ApprovalEvent, APPROVAL_DECIDED, APPROVAL_REQUESTED};

use crate::store::events::{now_ms, EventTx, NewEvent};
use crate::store::guardrails::{insert_approval_on, move_approval_on, ApprovalRow};
use crate::store::Store;

/// Stores a new approval with its `approval.requested` event.
pub async fn insert_requested(store: &Store, row: &ApprovalRow) -> Result<(), sqlx::Error> {
    let Some(mut tx) = open(store, row).await? else {
        // No event stream to write to (the connector is being deleted): the approval alone.
        return store.insert_approval(row).await;
    };
    insert_approval_on(tx.conn(), row).await?;
    add(&mut tx, row, APPROVAL_REQUESTED, None, None).await?;
    commit(tx).await
}

/// Moves a pending approval to `decision` (`approved`, `rejected`) by `by`, with its
/// `approval.decided` event. The decision's time (ms) when it moved; `None`, and nothing
/// written, when it was not pending any more or had expired (compare-and-set).
pub async fn decide(
    store: &Store,
    row: &ApprovalRow,
    decision: &str,
    by: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let t = now_ms();
    let moved = |done: bool| done.then_some(t);
    let Some(mut tx) = open(store, row).await? else {
        return move_approval_on(store.pool(), &row.id, "pending", decision, Some(by), t)
            .await
            .map(moved);
    };
    if !move_approval_on(tx.conn(), &row.id, "pending", decision, Some(by), t).await? {
        // Dropped: the transaction rolls back (it wrote nothing).
        return Ok(None);
    }
    add(&mut tx, row, APPROVAL_DECIDED, Some(decision), Some(by)).await?;
    commit(tx).await?;
    Ok(Some(t))
}

/// The connector's event transaction (`None`: the connector has no event stream).
async fn open(store: &Store, row: &ApprovalRow) -> Result<Option<EventTx>, sqlx::Error> {
    store
        .begin_events(&row.connector_id, &row.organization_id, None)
        .await
}

async fn add(
    tx: &mut EventTx,
    row: &ApprovalRow,
    kind: &str,
    decision: Option<&str>,
    by: Option<&str>,
) -> Result<(), sqlx::Error> {
    let seq = tx.next_seq();
    // One per approval and kind. None can exist yet: the request is written with its new
    // approval, and the decision with the move out of `pending`, which happens once (a
    // duplicate would fail the transaction on `events.id`, not pass unseen).
    let id = format!("evt_{}_{}", row.id, kind.rsplit('.').next().unwrap_or(kind));
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
    tx.insert(NewEvent {
        id: &id,
        kind,
        body: &body,
        seq,
        // For the organization's webhook, when it has one (read with the stream's lock).
        deliver: tx.webhook(),
    })
    .await
}

async fn commit(tx: EventTx) -> Result<(), sqlx::Error> {
    tx.commit(None).await?;
    crate::services::events::WRITTEN.notify_waiters();
    Ok(())
}
