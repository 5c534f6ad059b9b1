use sqlx::Row;

use super::{new_id, now, Store};

/// An API application (its secret only as an argon2 hash).
#[derive(Clone)]
pub struct Application {
    pub id: String,
    pub organization_id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub revoked: bool,
}

/// A stored bearer token.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub application_id: String,
    pub organization_id: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn create_application(
        &self,
        organization_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> Result<Application, sqlx::Error> {
        let app = Application {
            id: new_id(),
            organization_id: organization_id.to_string(),
            client_id: client_id.to_string(),
            secret_hash: secret_hash.to_string(),
            revoked: false,
        };
        sqlx::query(
            "INSERT INTO applications \
             (id, organization_id, client_id, secret_hash, created_at, created_seq) \
             VALUES ($1, $2, $3, $4, $5, \
             (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM applications WHERE organization_id = $2))",
        )
        .bind(&app.id)
        .bind(&app.organization_id)
        .bind(&app.client_id)
        .bind(&app.secret_hash)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(app)
    }

    pub async fn find_application(
        &self,
        client_id: &str,
    ) -> Result<Option<Application>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, organization_id, client_id, secret_hash, revoked_at FROM applications \
             WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Application {
            id: r.get("id"),
            organization_id: r.get("organization_id"),
            client_id: r.get("client_id"),
            secret_hash: r.get("secret_hash"),
            revoked: r.get::<Option<i64>, _>("revoked_at").is_some(),
        }))
    }

    pub async fn insert_token(
        &self,
        token_hash: &str,
        app: &Application,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        let now = now();
        sqlx::query("DELETE FROM app_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO app_tokens (token_hash, application_id, organization_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(&app.id)
        .bind(&app.organization_id)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The token's record if its application is not revoked (expiry checked by the caller).
    pub async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT t.application_id, t.organization_id, t.expires_at FROM app_tokens t \
             JOIN applications a ON a.id = t.application_id \
             WHERE t.token_hash = $1 AND a.revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| TokenRecord {
            application_id: r.get("application_id"),
            organization_id: r.get("organization_id"),
            expires_at: r.get("expires_at"),
        }))
    }

    /// Test helper and admin tool: moves a token's expiry.
    pub async fn set_token_expiry(
        &self,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE app_tokens SET expires_at = $1 WHERE token_hash = $2")
            .bind(expires_at)
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// The organization's applications, oldest first (the first one not revoked is the admin).
    pub async fn list_applications(&self, org: &str) -> Result<Vec<ApplicationRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, client_id, organization_id, created_at, revoked_at FROM applications \
             WHERE organization_id = $1 ORDER BY created_seq, created_at, id",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApplicationRow {
                    id: r.try_get("id")?,
                    client_id: r.try_get("client_id")?,
                    organization_id: r.try_get("organization_id")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// The internal id of the application with this client id in the organization.
    pub async fn application_id(
        &self,
        org: &str,
        client_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM applications WHERE organization_id = $1 AND client_id = $2",
        )
        .bind(org)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// The client id of an application (by its internal id).
    pub async fn application_client_id(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT client_id FROM applications WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// When the application was revoked (`None`: it is not).
    pub async fn application_revoked_at(&self, id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT revoked_at FROM applications WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
    }

    /// Revokes the application (kept as revoked at `at`) unless it already is.
    pub async fn revoke_application(&self, id: &str, at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE applications SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Replaces the application's secret hash.
    pub async fn set_application_secret(
        &self,
        id: &str,
        secret_hash: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE applications SET secret_hash = $1 WHERE id = $2")
            .bind(secret_hash)
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Deletes every bearer token of the application.
    pub async fn delete_application_tokens(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM app_tokens WHERE application_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// An application as listed (never its secret hash).
#[derive(Debug, Clone)]
pub struct ApplicationRow {
    pub id: String,
    pub client_id: String,
    pub organization_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}
