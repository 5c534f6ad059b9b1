use sqlx::Row;

use super::{now, Store};

/// A wrapped per-organization data key.
#[derive(Debug, Clone)]
pub struct DataKeyRow {
    pub id: String,
    pub organization_id: String,
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
}

fn row_to_key(r: super::Row) -> DataKeyRow {
    DataKeyRow {
        id: r.get("id"),
        organization_id: r.get("organization_id"),
        master_key_id: r.get("master_key_id"),
        wrapped: r.get("wrapped"),
    }
}

impl Store {
    pub async fn active_data_key(
        &self,
        organization_id: &str,
    ) -> Result<Option<DataKeyRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, organization_id, master_key_id, wrapped FROM data_keys \
             WHERE organization_id = $1 AND active",
        )
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(row_to_key))
    }

    pub async fn data_key(&self, id: &str) -> Result<Option<DataKeyRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, organization_id, master_key_id, wrapped FROM data_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(row_to_key))
    }

    /// Inserts an active key unless the organization already has one (a concurrent insert won);
    /// returns the active key either way.
    pub async fn insert_data_key(&self, key: &DataKeyRow) -> Result<DataKeyRow, sqlx::Error> {
        sqlx::query(
            "INSERT INTO data_keys (id, organization_id, master_key_id, wrapped, active, created_at) \
             VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&key.id)
        .bind(&key.organization_id)
        .bind(&key.master_key_id)
        .bind(&key.wrapped)
        .bind(now())
        .execute(&self.pool)
        .await?;
        self.active_data_key(&key.organization_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

impl Store {
    /// Data keys wrapped by any master key other than this one (key rotation).
    pub async fn data_keys_not_wrapped_by(
        &self,
        master_key_id: &str,
    ) -> Result<Vec<DataKeyRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, organization_id, master_key_id, wrapped FROM data_keys \
             WHERE master_key_id <> $1 ORDER BY id",
        )
        .bind(master_key_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(row_to_key).collect())
    }

    /// Replaces a data key's wrapping if it is still `old_wrapped` (compare-and-set, so
    /// concurrent rotations cannot lose an update); true when this call changed it.
    pub async fn rewrap_data_key(
        &self,
        id: &str,
        old_wrapped: &[u8],
        master_key_id: &str,
        wrapped: &[u8],
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE data_keys SET master_key_id = $1, wrapped = $2 WHERE id = $3 AND wrapped = $4",
        )
        .bind(master_key_id)
        .bind(wrapped)
        .bind(id)
        .bind(old_wrapped)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
