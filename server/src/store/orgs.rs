use serde::Serialize;
use sqlx::Row;

use super::{new_id, now, Store};

#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
}

impl Store {
    pub async fn create_org(&self, name: &str) -> Result<Organization, sqlx::Error> {
        let org = Organization {
            id: new_id(),
            name: name.to_string(),
        };
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&org.id)
            .bind(&org.name)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(org)
    }

    /// By id, else by name.
    pub async fn find_org(&self, id_or_name: &str) -> Result<Option<Organization>, sqlx::Error> {
        let row = sqlx::query("SELECT id, name FROM organizations WHERE id = $1 OR name = $1")
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Organization {
            id: r.get("id"),
            name: r.get("name"),
        }))
    }
}
