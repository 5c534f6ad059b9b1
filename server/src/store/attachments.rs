//! Attachment handles (docs/attachments.md): one row per uploaded or fetched file, its bytes
//! sealed by the vault, scoped to an organization and expiring. Expired rows are deleted by
//! [`Store::sweep_attachment_handles`] (run before each insert) and never read.

use sqlx::Row;

use super::Store;

/// A handle as stored (`content` sealed).
#[derive(Debug, Clone)]
pub struct HandleRow {
    pub id: String,
    pub organization_id: String,
    pub filename: String,
    pub mime_type: String,
    pub size: i64,
    pub sha256: String,
    /// `upload`, or `connector:<id>` for an attachment fetched from a mailbox.
    pub source: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

const META: &str = "id, organization_id, filename, mime_type, size, sha256, source, \
     created_at_ms, expires_at_ms";

fn meta(r: &sqlx::any::AnyRow) -> HandleRow {
    HandleRow {
        id: r.get("id"),
        organization_id: r.get("organization_id"),
        filename: r.get("filename"),
        mime_type: r.get("mime_type"),
        size: r.get("size"),
        sha256: r.get("sha256"),
        source: r.get("source"),
        created_at_ms: r.get("created_at_ms"),
        expires_at_ms: r.get("expires_at_ms"),
    }
}

impl Store {
    /// Deletes every expired handle (of every organization); returns how many.
    pub async fn sweep_attachment_handles(&self, now_ms: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("DELETE FROM attachment_handles WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
    }

    /// Bytes (plaintext sizes) the organization's live handles hold.
    pub async fn attachment_bytes(&self, org: &str, now_ms: i64) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM attachment_handles \
             WHERE organization_id = $1 AND expires_at_ms > $2",
        )
        .bind(org)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        // SUM is NUMERIC on PostgreSQL: the cast makes it BIGINT on both backends.
        row.try_get::<i64, _>("n")
    }

    pub async fn insert_attachment_handle(
        &self,
        h: &HandleRow,
        content: &[u8],
    ) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO attachment_handles ({META}, content) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&h.id)
        .bind(&h.organization_id)
        .bind(&h.filename)
        .bind(&h.mime_type)
        .bind(h.size)
        .bind(&h.sha256)
        .bind(&h.source)
        .bind(h.created_at_ms)
        .bind(h.expires_at_ms)
        .bind(content)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// The organization's live handle `id` with its sealed bytes (`None`: no such handle in
    /// this organization, or expired).
    pub async fn attachment_handle(
        &self,
        org: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<(HandleRow, Vec<u8>)>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {META}, content FROM attachment_handles \
             WHERE id = $1 AND organization_id = $2 AND expires_at_ms > $3"
        ))
        .bind(id)
        .bind(org)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (meta(&r), r.get("content"))))
    }

    /// Deletes the organization's handle `id`; whether there was one.
    pub async fn delete_attachment_handle(&self, org: &str, id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM attachment_handles WHERE id = $1 AND organization_id = $2")
            .bind(id)
            .bind(org)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() > 0)
    }
}
