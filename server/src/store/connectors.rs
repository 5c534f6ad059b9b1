use sqlx::Row;

use super::{new_id, now, Store};

/// A connector as stored (credentials still encrypted).
#[derive(Debug, Clone)]
pub struct ConnectorRow {
    pub id: String,
    pub organization_id: String,
    pub customer_name: String,
    pub connector_type: String,
    pub definition_id: String,
    pub name: String,
    pub replication_config: serde_json::Value,
    pub credentials: Vec<u8>,
    pub credentials_version: i64,
    pub base_url: Option<String>,
    pub token_url: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub scopes: Option<String>,
    pub last_refresh_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewConnector {
    pub organization_id: String,
    pub customer_name: String,
    pub connector_type: String,
    pub definition_id: String,
    pub name: String,
    pub replication_config: serde_json::Value,
    pub credentials: Vec<u8>,
    pub credentials_key_id: String,
    pub base_url: Option<String>,
    pub token_url: Option<String>,
}

/// PATCH: fields left `None` keep their value.
#[derive(Default)]
pub struct ConnectorUpdate {
    pub name: Option<String>,
    pub replication_config: Option<serde_json::Value>,
    /// New ciphertext and its key id; resets the status to `active`.
    pub credentials: Option<(Vec<u8>, String)>,
    /// Endpoint overrides (sandbox re-binding).
    pub endpoints: Option<(Option<String>, Option<String>)>,
}

#[derive(Debug, Default)]
pub struct ConnectorFilter {
    pub customer_name: Option<String>,
    pub connector_type: Option<String>,
    pub definition_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

const COLUMNS: &str = "id, organization_id, customer_name, connector_type, definition_id, name, \
    replication_config, credentials, credentials_version, base_url, token_url, status, \
    status_reason, scopes, last_refresh_at, created_at, updated_at";

fn to_row(r: super::Row) -> ConnectorRow {
    let rc: String = r.get("replication_config");
    ConnectorRow {
        id: r.get("id"),
        organization_id: r.get("organization_id"),
        customer_name: r.get("customer_name"),
        connector_type: r.get("connector_type"),
        definition_id: r.get("definition_id"),
        name: r.get("name"),
        replication_config: serde_json::from_str(&rc).unwrap_or_default(),
        credentials: r.get("credentials"),
        credentials_version: r.get("credentials_version"),
        base_url: r.get("base_url"),
        token_url: r.get("token_url"),
        status: r.get("status"),
        status_reason: r.get("status_reason"),
        scopes: r.get("scopes"),
        last_refresh_at: r.get("last_refresh_at"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

impl Store {
    pub async fn insert_connector(&self, c: NewConnector) -> Result<ConnectorRow, sqlx::Error> {
        let id = new_id();
        let now = now();
        sqlx::query(
            "INSERT INTO connectors (id, organization_id, customer_name, connector_type, \
             definition_id, name, replication_config, credentials, credentials_key_id, \
             credentials_version, base_url, token_url, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, 'active', $12, $12)",
        )
        .bind(&id)
        .bind(&c.organization_id)
        .bind(&c.customer_name)
        .bind(&c.connector_type)
        .bind(&c.definition_id)
        .bind(&c.name)
        .bind(c.replication_config.to_string())
        .bind(&c.credentials)
        .bind(&c.credentials_key_id)
        .bind(&c.base_url)
        .bind(&c.token_url)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.get_connector(&c.organization_id, &id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The connector if it belongs to the organization.
    pub async fn get_connector(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<Option<ConnectorRow>, sqlx::Error> {
        let sql =
            format!("SELECT {COLUMNS} FROM connectors WHERE id = $1 AND organization_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(organization_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(to_row))
    }

    pub async fn list_connectors(
        &self,
        organization_id: &str,
        f: &ConnectorFilter,
    ) -> Result<Vec<ConnectorRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connectors WHERE organization_id = $1 \
             AND ($2 IS NULL OR customer_name = $2) AND ($3 IS NULL OR connector_type = $3) \
             AND ($4 IS NULL OR definition_id = $4) \
             ORDER BY created_at, id LIMIT $5 OFFSET $6"
        );
        let rows = sqlx::query(&sql)
            .bind(organization_id)
            .bind(&f.customer_name)
            .bind(&f.connector_type)
            .bind(&f.definition_id)
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(to_row).collect())
    }

    /// Applies a PATCH; `None` when the connector is not in the organization.
    pub async fn update_connector(
        &self,
        organization_id: &str,
        id: &str,
        u: ConnectorUpdate,
    ) -> Result<Option<ConnectorRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        // A write first: it takes SQLite's write lock at once (a read first would have to
        // upgrade, which fails under concurrent writers) and PostgreSQL's row lock.
        let exists = sqlx::query(
            "UPDATE connectors SET updated_at = $1 WHERE id = $2 AND organization_id = $3",
        )
        .bind(now)
        .bind(id)
        .bind(organization_id)
        .execute(&mut *tx)
        .await?;
        if exists.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(name) = &u.name {
            sqlx::query("UPDATE connectors SET name = $1, updated_at = $2 WHERE id = $3")
                .bind(name)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(rc) = &u.replication_config {
            sqlx::query(
                "UPDATE connectors SET replication_config = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(rc.to_string())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some((blob, key_id)) = &u.credentials {
            sqlx::query(
                "UPDATE connectors SET credentials = $1, credentials_key_id = $2, \
                 credentials_version = credentials_version + 1, status = 'active', \
                 status_reason = NULL, updated_at = $3 WHERE id = $4",
            )
            .bind(blob)
            .bind(key_id)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some((base_url, token_url)) = &u.endpoints {
            sqlx::query(
                "UPDATE connectors SET base_url = $1, token_url = $2, \
                 credentials_version = credentials_version + 1, updated_at = $3 WHERE id = $4",
            )
            .bind(base_url)
            .bind(token_url)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.get_connector(organization_id, id).await
    }

    pub async fn delete_connector(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM connectors WHERE id = $1 AND organization_id = $2")
            .bind(id)
            .bind(organization_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Writes refreshed credentials (a refresh, not a replacement: the version stays).
    pub async fn store_refreshed_credentials(
        &self,
        id: &str,
        blob: &[u8],
        key_id: &str,
        scopes: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE connectors SET credentials = $1, credentials_key_id = $2, \
             scopes = COALESCE($3, scopes), last_refresh_at = $4 WHERE id = $5",
        )
        .bind(blob)
        .bind(key_id)
        .bind(scopes)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    pub async fn set_connector_status(
        &self,
        id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE connectors SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status)
        .bind(reason)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// How many connectors there are per type and status (`/metrics`).
    pub async fn connector_counts(&self) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT connector_type, status, COUNT(*) AS n FROM connectors GROUP BY connector_type, status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("connector_type")?,
                    r.try_get("status")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }
}
