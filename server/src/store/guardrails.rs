//! Guardrails in the database: policy versions per scope (a connector, or the organization's
//! default), approvals (previews sealed by the vault) and the sends the limits count. Every
//! state change of an approval is one compare-and-set `UPDATE`, so replicas agree on it.

use sqlx::Row;

use super::events::now_ms;
use super::Store;

/// The scope of an organization's default policy.
pub const ORG_SCOPE: &str = "";

/// One stored version of a policy.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub scope: String,
    pub version: i64,
    /// JSON; `None` when this version removed the policy.
    pub policy: Option<String>,
    pub updated_by: Option<String>,
    pub created_at: i64,
}

/// An approval as stored (`preview` and `link_key` sealed).
#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub id: String,
    pub organization_id: String,
    pub connector_id: String,
    pub content_hash: String,
    pub entity: String,
    pub action: String,
    pub reason: String,
    pub preview: Vec<u8>,
    pub link_key: Vec<u8>,
    /// As stored; see [`ApprovalRow::status_now`].
    pub status: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
}

impl ApprovalRow {
    /// `expired` once the time ran out on a pending or approved (unused) approval.
    pub fn status_now(&self, now_ms: i64) -> &str {
        match self.status.as_str() {
            "pending" | "approved" if self.expires_at_ms <= now_ms => "expired",
            s => s,
        }
    }
}

const APPROVAL_COLUMNS: &str = "id, organization_id, connector_id, content_hash, entity, action, \
     reason, preview, link_key, status, created_at_ms, expires_at_ms, decided_at_ms, decided_by";

fn approval(r: &sqlx::any::AnyRow) -> ApprovalRow {
    ApprovalRow {
        id: r.get("id"),
        organization_id: r.get("organization_id"),
        connector_id: r.get("connector_id"),
        content_hash: r.get("content_hash"),
        entity: r.get("entity"),
        action: r.get("action"),
        reason: r.get("reason"),
        preview: r.get("preview"),
        link_key: r.get("link_key"),
        status: r.get("status"),
        created_at_ms: r.get("created_at_ms"),
        expires_at_ms: r.get("expires_at_ms"),
        decided_at_ms: r.get("decided_at_ms"),
        decided_by: r.get("decided_by"),
    }
}

fn policy_row(r: &sqlx::any::AnyRow) -> PolicyRow {
    PolicyRow {
        scope: r.get("scope"),
        version: r.get("version"),
        policy: r.get("policy"),
        updated_by: r.get("updated_by"),
        created_at: r.get("created_at"),
    }
}

impl Store {
    /// The latest version of a scope's policy (removed or not).
    pub async fn policy_of(
        &self,
        organization_id: &str,
        scope: &str,
    ) -> Result<Option<PolicyRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT scope, version, policy, updated_by, created_at FROM policies \
             WHERE organization_id = $1 AND scope = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(organization_id)
        .bind(scope)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(policy_row))
    }

    /// The policy in force for a connector: its own, else the organization's default.
    pub async fn policy_in_force(
        &self,
        organization_id: &str,
        connector_id: &str,
    ) -> Result<Option<PolicyRow>, sqlx::Error> {
        if let Some(own) = self.policy_of(organization_id, connector_id).await? {
            if own.policy.is_some() {
                return Ok(Some(own));
            }
        }
        Ok(self
            .policy_of(organization_id, ORG_SCOPE)
            .await?
            .filter(|p| p.policy.is_some()))
    }

    /// Adds the next version of a scope's policy (`None` removes it).
    pub async fn set_policy(
        &self,
        organization_id: &str,
        scope: &str,
        policy: Option<&str>,
        updated_by: &str,
    ) -> Result<PolicyRow, sqlx::Error> {
        let created_at = super::now();
        let row = sqlx::query(
            "INSERT INTO policies (organization_id, scope, version, policy, updated_by, created_at) \
             SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 FROM policies \
             WHERE organization_id = $1 AND scope = $2 RETURNING version",
        )
        .bind(organization_id)
        .bind(scope)
        .bind(policy)
        .bind(updated_by)
        .bind(created_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(PolicyRow {
            scope: scope.to_string(),
            version: row.get("version"),
            policy: policy.map(str::to_string),
            updated_by: Some(updated_by.to_string()),
            created_at,
        })
    }

    /// Sends of a connector since each of two instants (unix ms): `(since_a, since_b)`.
    pub async fn count_sends(
        &self,
        connector_id: &str,
        since_a_ms: i64,
        since_b_ms: i64,
    ) -> Result<(u64, u64), sqlx::Error> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN sent_at_ms > $2 THEN 1 ELSE 0 END), 0) AS a, \
             COALESCE(SUM(CASE WHEN sent_at_ms > $3 THEN 1 ELSE 0 END), 0) AS b \
             FROM policy_sends WHERE connector_id = $1",
        )
        .bind(connector_id)
        .bind(since_a_ms)
        .bind(since_b_ms)
        .fetch_one(&self.pool)
        .await?;
        let n = |c: &str| row.try_get::<i64, _>(c).unwrap_or(0).max(0) as u64;
        Ok((n("a"), n("b")))
    }

    /// Counts a send; drops the connector's sends older than a day.
    pub async fn record_send(&self, id: &str, connector_id: &str) -> Result<(), sqlx::Error> {
        let t = now_ms();
        sqlx::query("DELETE FROM policy_sends WHERE connector_id = $1 AND sent_at_ms < $2")
            .bind(connector_id)
            .bind(t - 86_400_000)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO policy_sends (id, connector_id, sent_at_ms) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(connector_id)
            .bind(t)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn forget_send(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM policy_sends WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn insert_approval(&self, a: &ApprovalRow) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO approvals ({APPROVAL_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&a.id)
        .bind(&a.organization_id)
        .bind(&a.connector_id)
        .bind(&a.content_hash)
        .bind(&a.entity)
        .bind(&a.action)
        .bind(&a.reason)
        .bind(&a.preview)
        .bind(&a.link_key)
        .bind(&a.status)
        .bind(a.created_at_ms)
        .bind(a.expires_at_ms)
        .bind(a.decided_at_ms)
        .bind(&a.decided_by)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// The newest approval of this content on this connector.
    pub async fn latest_approval(
        &self,
        connector_id: &str,
        content_hash: &str,
    ) -> Result<Option<ApprovalRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE connector_id = $1 \
             AND content_hash = $2 ORDER BY created_at_ms DESC, id DESC LIMIT 1"
        ))
        .bind(connector_id)
        .bind(content_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(approval))
    }

    /// An approval of the organization (another organization's is `None`).
    pub async fn approval(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<Option<ApprovalRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE organization_id = $1 AND id = $2"
        ))
        .bind(organization_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(approval))
    }

    /// By id alone (signed links carry the id; the signature proves the organization).
    pub async fn approval_by_id(&self, id: &str) -> Result<Option<ApprovalRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(approval))
    }

    /// The organization's newest approvals (at most 100), optionally of one stored status.
    pub async fn approvals(
        &self,
        organization_id: &str,
        status: Option<&str>,
    ) -> Result<Vec<ApprovalRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE organization_id = $1 \
             AND ($2 = '' OR status = $2) ORDER BY created_at_ms DESC, id DESC LIMIT 100"
        ))
        .bind(organization_id)
        .bind(status.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(approval).collect())
    }

    /// `from` -> `to` when the approval is still in time (compare-and-set); `decided_by` is
    /// recorded when given. `false`: it was not `from` any more, or it expired.
    pub async fn move_approval(
        &self,
        id: &str,
        from: &str,
        to: &str,
        decided_by: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let t = now_ms();
        let done = match decided_by {
            Some(by) => {
                sqlx::query(
                    "UPDATE approvals SET status = $1, decided_at_ms = $2, decided_by = $3 \
                     WHERE id = $4 AND status = $5 AND expires_at_ms > $2",
                )
                .bind(to)
                .bind(t)
                .bind(by)
                .bind(id)
                .bind(from)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE approvals SET status = $1 WHERE id = $2 AND status = $3 \
                     AND expires_at_ms > $4",
                )
                .bind(to)
                .bind(id)
                .bind(from)
                .bind(t)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }
}
