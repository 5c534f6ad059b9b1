//! Guardrails (docs/guardrails.md): send policies per connector and per organization
//! (versioned), approvals that a person decides through the API or a single-use signed link,
//! and the [`ServerGuard`] that holds every execute to them (core judges; this stores).

mod events;
mod guard;
mod links;

pub use links::PATH as LINK_PATH;

use std::time::Duration;

use api_types::guardrails::{ApprovalLink, ApprovalList, ApprovalView, LinkRequest, PolicyView};
use connector_core::guard::{Policy, Preview};
use connector_core::{ConnectorError, ErrorCode};
use serde_json::json;

pub use guard::ServerGuard;

use crate::error::db;
use crate::store::events::now_ms;
use crate::store::guardrails::{ApprovalRow, PolicyRow, ORG_SCOPE};
use crate::store::Store;
use crate::vault::Vault;

/// The longest a caller may wait for a decision in one request.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

pub struct Guardrails {
    store: Store,
    vault: Vault,
}

/// RFC 3339 of unix milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn rfc3339_s(s: i64) -> String {
    rfc3339_ms(s.saturating_mul(1000))
}

impl Guardrails {
    pub fn new(store: Store, vault: Vault) -> Guardrails {
        Guardrails { store, vault }
    }

    /// The policy in force for a connector (`Some(id)`, which must be the organization's), or
    /// the organization's default (`None`).
    pub async fn policy(
        &self,
        org: &str,
        connector_id: Option<&str>,
    ) -> Result<PolicyView, ConnectorError> {
        let row = match connector_id {
            Some(id) => self.store.policy_in_force(org, id).await.map_err(db)?,
            None => self
                .store
                .policy_of(org, ORG_SCOPE)
                .await
                .map_err(db)?
                .filter(|p| p.policy.is_some()),
        };
        view_of(connector_id, row)
    }

    /// Sets (or with `None` removes) a scope's policy: a new version.
    pub async fn set_policy(
        &self,
        org: &str,
        connector_id: Option<&str>,
        policy: Option<Policy>,
        by: &str,
    ) -> Result<PolicyView, ConnectorError> {
        if let Some(p) = &policy {
            p.validate()?;
        }
        let text = policy
            .as_ref()
            .map(|p| serde_json::to_string(p).expect("a policy serializes"));
        self.store
            .set_policy(org, connector_id.unwrap_or(ORG_SCOPE), text.as_deref(), by)
            .await
            .map_err(db)?;
        tracing::info!(organization_id = %org, connector_id = connector_id.unwrap_or("(organization)"), by, "policy changed");
        self.policy(org, connector_id).await
    }

    pub async fn approvals(
        &self,
        org: &str,
        status: Option<&str>,
    ) -> Result<ApprovalList, ConnectorError> {
        if let Some(s) = status {
            if connector_core::guard::ApprovalStatus::parse(s).is_none() {
                return Err(ConnectorError::invalid_field(
                    "/status",
                    "must be one of pending, approved, rejected, expired, used",
                ));
            }
        }
        // `expired` is computed: read pending and approved rows and keep the ones out of time.
        let stored = match status {
            Some("expired") => None,
            s => s,
        };
        let t = now_ms();
        let mut data = Vec::new();
        for row in self.store.approvals(org, stored).await.map_err(db)? {
            if status.is_none_or(|s| row.status_now(t) == s) {
                data.push(self.view(&row).await?);
            }
        }
        Ok(ApprovalList { data })
    }

    /// One approval; with `wait`, answers once it is no longer pending (or when `wait` ran out).
    pub async fn approval(
        &self,
        org: &str,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<ApprovalView, ConnectorError> {
        let deadline = tokio::time::Instant::now() + wait.unwrap_or_default().min(MAX_WAIT);
        loop {
            let row = self.row(org, id).await?;
            if row.status_now(now_ms()) != "pending" || tokio::time::Instant::now() >= deadline {
                return self.view(&row).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A person's decision through the API (`by` = `app:<client id>`).
    pub async fn decide(
        &self,
        org: &str,
        id: &str,
        approve: bool,
        by: &str,
    ) -> Result<ApprovalView, ConnectorError> {
        let row = self.row(org, id).await?;
        self.decide_row(row, approve, by).await
    }

    async fn decide_row(
        &self,
        row: ApprovalRow,
        approve: bool,
        by: &str,
    ) -> Result<ApprovalView, ConnectorError> {
        let to = if approve { "approved" } else { "rejected" };
        let moved = events::decide(&self.store, &row, to, by)
            .await
            .map_err(db)?;
        let Some(decided_at_ms) = moved else {
            let now = self
                .store
                .approval(&row.organization_id, &row.id)
                .await
                .map_err(db)?
                .ok_or_else(|| ConnectorError::not_found("the approval was deleted"))?;
            let status = now.status_now(now_ms()).to_string();
            return Err(ConnectorError::new(
                ErrorCode::Conflict,
                format!(
                    "approval {} is {status} already: only a pending approval can be decided",
                    row.id
                ),
            )
            .with_details(json!({"reason": "already_decided", "status": status})));
        };
        tracing::info!(approval_id = %row.id, decision = to, by, "approval decided");
        // The row as the move wrote it (no second read).
        let now = ApprovalRow {
            status: to.to_string(),
            decided_at_ms: Some(decided_at_ms),
            decided_by: Some(by.to_string()),
            ..row
        };
        self.view(&now).await
    }

    /// A single-use signed link to the approval page.
    pub async fn link(
        &self,
        org: &str,
        id: &str,
        req: LinkRequest,
        base_url: &str,
    ) -> Result<ApprovalLink, ConnectorError> {
        let row = self.row(org, id).await?;
        if row.status_now(now_ms()) != "pending" {
            return Err(ConnectorError::new(
                ErrorCode::Conflict,
                format!(
                    "approval {id} is {} : a link is only for a pending approval",
                    row.status_now(now_ms())
                ),
            )
            .with_details(json!({"reason": "already_decided"})));
        }
        let key = self.vault.decrypt(org, &row.link_key).await?;
        let ttl = req.ttl_seconds.unwrap_or(3600).clamp(1, 7 * 86_400);
        let expires = (now_ms() + ttl as i64 * 1000).min(row.expires_at_ms);
        let reviewer = req.reviewer.unwrap_or_else(|| "reviewer".to_string());
        if reviewer.chars().count() > 200 || reviewer.chars().any(char::is_control) {
            return Err(ConnectorError::invalid_field(
                "/reviewer",
                "at most 200 characters, no control characters",
            ));
        }
        let token = links::sign(&key, id, expires, &reviewer);
        Ok(ApprovalLink {
            url: format!(
                "{}{}?token={token}",
                base_url.trim_end_matches('/'),
                links::PATH
            ),
            expires_at: rfc3339_ms(expires),
        })
    }

    /// The approval a link shows (its signature and time checked).
    pub async fn by_link(&self, token: &str) -> Result<(ApprovalView, String), ConnectorError> {
        let (row, reviewer) = self.verify_link(token).await?;
        Ok((self.view(&row).await?, reviewer))
    }

    /// A decision through a link: single use, since only a pending approval can be decided.
    pub async fn decide_by_link(
        &self,
        token: &str,
        approve: bool,
    ) -> Result<ApprovalView, ConnectorError> {
        let (row, reviewer) = self.verify_link(token).await?;
        self.decide_row(row, approve, &format!("link:{reviewer}"))
            .await
    }

    async fn verify_link(&self, token: &str) -> Result<(ApprovalRow, String), ConnectorError> {
        let bad = || {
            ConnectorError::new(
                ErrorCode::Unauthenticated,
                "this approval link is not valid or has expired: ask for a new one",
            )
        };
        let parsed = links::parse(token).ok_or_else(bad)?;
        let row = self
            .store
            .approval_by_id(&parsed.approval_id)
            .await
            .map_err(db)?
            .ok_or_else(bad)?;
        let key = self
            .vault
            .decrypt(&row.organization_id, &row.link_key)
            .await?;
        if !links::verify(&key, &parsed) || parsed.expires_ms <= now_ms() {
            return Err(bad());
        }
        Ok((row, parsed.reviewer))
    }

    async fn row(&self, org: &str, id: &str) -> Result<ApprovalRow, ConnectorError> {
        self.store
            .approval(org, id)
            .await
            .map_err(db)?
            .ok_or_else(|| {
                ConnectorError::not_found(format!(
                    "no approval {id} in this organization: take the id from an approval_required error or GET /api/v1/approvals"
                ))
            })
    }

    async fn view(&self, row: &ApprovalRow) -> Result<ApprovalView, ConnectorError> {
        let preview = self
            .vault
            .decrypt(&row.organization_id, &row.preview)
            .await?;
        let preview: Preview = serde_json::from_slice(&preview).map_err(crate::error::internal)?;
        Ok(ApprovalView {
            id: row.id.clone(),
            connector_id: row.connector_id.clone(),
            entity: row.entity.clone(),
            action: row.action.clone(),
            status: row.status_now(now_ms()).to_string(),
            reason: row.reason.clone(),
            content_hash: row.content_hash.clone(),
            preview,
            created_at: rfc3339_ms(row.created_at_ms),
            expires_at: rfc3339_ms(row.expires_at_ms),
            decided_at: row.decided_at_ms.map(rfc3339_ms),
            decided_by: row.decided_by.clone(),
        })
    }
}

fn view_of(
    connector_id: Option<&str>,
    row: Option<PolicyRow>,
) -> Result<PolicyView, ConnectorError> {
    let Some(row) = row else {
        return Ok(PolicyView {
            connector_id: connector_id.map(str::to_string),
            source: "none".into(),
            version: 0,
            policy: None,
            updated_at: None,
            updated_by: None,
        });
    };
    let policy = row.policy.as_deref().map(guard::parse_policy).transpose()?;
    Ok(PolicyView {
        connector_id: connector_id.map(str::to_string),
        source: if row.scope == ORG_SCOPE {
            "organization"
        } else {
            "connector"
        }
        .into(),
        version: row.version,
        policy,
        updated_at: Some(rfc3339_s(row.created_at)),
        updated_by: row.updated_by,
    })
}
