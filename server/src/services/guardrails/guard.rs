//! [`ServerGuard`]: core's [`Guard`] on the server's database, one per connector instance.
//! The policy in force is asked of the store on every call that is not a read; the store keeps
//! it in memory until a change is announced (every replica hears of it, see
//! [`crate::store::auth`]). Sends and approvals are rows every replica sees.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use connector_core::guard::{
    ApprovalRequest, ApprovalState, ApprovalStatus, ApprovalTicket, Consumed, Guard, Policy,
    SendCounts,
};
use connector_core::{ConnectorError, Result};
use serde_json::json;

use crate::error::db;
use crate::store::events::now_ms;
use crate::store::guardrails::{ApprovalRow, DAY_MS, HOUR_MS};
use crate::store::Store;
use crate::vault::Vault;

pub struct ServerGuard {
    pub(crate) store: Store,
    pub(crate) vault: Vault,
    pub(crate) organization_id: String,
    pub(crate) connector_id: String,
    /// Sends counted through this instance: every [`PRUNE_EVERY`]th (the first included) drops
    /// the connector's sends older than a day.
    counted: AtomicU64,
}

/// How often counting a send also prunes the old ones.
const PRUNE_EVERY: u64 = 64;

impl ServerGuard {
    pub fn new(store: Store, vault: Vault, organization_id: &str, connector_id: &str) -> Self {
        ServerGuard {
            store,
            vault,
            organization_id: organization_id.to_string(),
            connector_id: connector_id.to_string(),
            counted: AtomicU64::new(0),
        }
    }

    /// After a counted send: prunes now and then (a failure only leaves old rows longer).
    async fn counted_one(&self) {
        if self
            .counted
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            if let Err(e) = self.store.prune_sends(&self.connector_id).await {
                tracing::warn!(error = %e, "pruning counted sends failed");
            }
        }
    }
}

/// Reads a stored policy (written by this server, so a failure is ours).
pub fn parse_policy(text: &str) -> Result<Policy> {
    serde_json::from_str(text)
        .map_err(|e| ConnectorError::internal("a stored policy does not parse").with_source(e))
}

#[async_trait]
impl Guard for ServerGuard {
    async fn policy(&self) -> Result<Option<Policy>> {
        let row = self
            .store
            .policy_in_force(&self.organization_id, &self.connector_id)
            .await
            .map_err(db)?;
        row.and_then(|r| r.policy)
            .map(|p| parse_policy(&p))
            .transpose()
    }

    async fn send_counts(&self) -> Result<SendCounts> {
        let t = now_ms();
        let (last_hour, last_day) = self
            .store
            .count_sends(&self.connector_id, t - HOUR_MS, t - DAY_MS)
            .await
            .map_err(db)?;
        Ok(SendCounts {
            last_hour,
            last_day,
        })
    }

    async fn record_send(&self, id: &str) -> Result<()> {
        self.store
            .record_send(id, &self.connector_id)
            .await
            .map_err(db)?;
        self.counted_one().await;
        Ok(())
    }

    async fn reserve_send(&self, id: &str, policy: &Policy) -> Result<Option<SendCounts>> {
        let counted = self
            .store
            .reserve_send(
                id,
                &self.connector_id,
                policy.max_sends_per_hour,
                policy.max_sends_per_day,
            )
            .await
            .map_err(db)?;
        if !counted {
            return self.send_counts().await.map(Some);
        }
        self.counted_one().await;
        Ok(None)
    }

    async fn forget_send(&self, id: &str) -> Result<()> {
        self.store.forget_send(id).await.map_err(db)
    }

    async fn find_approval(&self, content_hash: &str) -> Result<Option<ApprovalState>> {
        let row = self
            .store
            .latest_approval(&self.connector_id, content_hash)
            .await
            .map_err(db)?;
        Ok(row.map(|r| ApprovalState {
            status: ApprovalStatus::parse(r.status_now(now_ms()))
                .unwrap_or(ApprovalStatus::Rejected),
            id: r.id,
        }))
    }

    async fn request_approval(&self, request: ApprovalRequest) -> Result<ApprovalTicket> {
        let id = format!("apr_{}", crate::store::new_id().replace('-', ""));
        let preview = serde_json::to_vec(&request.preview).map_err(crate::error::internal)?;
        let (preview, _) = self.vault.encrypt(&self.organization_id, &preview).await?;
        let key: [u8; 32] = rand::random();
        let (link_key, _) = self.vault.encrypt(&self.organization_id, &key).await?;
        let created = now_ms();
        let ttl_ms = i64::try_from(request.ttl_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        let row = ApprovalRow {
            id: id.clone(),
            organization_id: self.organization_id.clone(),
            connector_id: self.connector_id.clone(),
            content_hash: request.content_hash,
            entity: request.entity,
            action: request.action,
            reason: request.reason,
            preview,
            link_key,
            status: "pending".into(),
            created_at_ms: created,
            expires_at_ms: created.saturating_add(ttl_ms),
            decided_at_ms: None,
            decided_by: None,
        };
        super::events::insert_requested(&self.store, &row)
            .await
            .map_err(db)?;
        Ok(ApprovalTicket {
            expires_at: super::rfc3339_ms(row.expires_at_ms),
            details: json!({
                "approval_url": format!("/api/v1/approvals/{id}"),
                "wait": format!("GET /api/v1/approvals/{id}?wait_seconds=30 answers once it is decided (or after 30 s)"),
            }),
            id,
        })
    }

    async fn consume_approval(&self, id: &str) -> Result<Consumed> {
        let uses = self.store.consume_approval(id).await.map_err(db)?;
        Ok(match uses {
            None => Consumed::No,
            Some(1) => Consumed::First,
            Some(_) => Consumed::Again,
        })
    }

    async fn release_approval(&self, id: &str) -> Result<()> {
        self.store
            .move_approval(id, "used", "approved", None)
            .await
            .map(|_| ())
            .map_err(db)
    }
}
