//! SQL for the OAuth flow: organization settings, pending states, BYO apps, account links.

use sqlx::Row;

use super::{new_id, now, Store};

/// Organization settings as stored (the webhook secret still encrypted).
#[derive(Debug, Clone, Default)]
pub struct SettingsRow {
    pub redirect_allowlist: Vec<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Vec<u8>>,
    pub raw_credential_apps: Vec<String>,
    /// Message bodies in events.
    pub event_bodies: bool,
    /// The name the connect page shows (else the organization's name).
    pub display_name: Option<String>,
    /// The logo the connect page shows (an https URL).
    pub logo_url: Option<String>,
    /// Where a reconnect link's flow returns the end user (else the server's own page).
    pub connect_return_url: Option<String>,
}

/// A connect session (issue 25) as stored.
#[derive(Debug, Clone)]
pub struct ConnectSessionRow {
    pub organization_id: String,
    pub request: String,
    pub expires_at: i64,
    pub started_at: Option<i64>,
    pub start: Option<String>,
    pub outcome: Option<String>,
}

/// The account (and BYO app) a connector made by the flow belongs to.
pub struct Link<'a> {
    pub connector_id: &'a str,
    pub organization_id: &'a str,
    pub customer_name: &'a str,
    pub connector_type: &'a str,
    pub account: &'a str,
    pub aliases: &'a [String],
    pub oauth_app_id: Option<&'a str>,
}

/// A pending consent request.
pub struct StateRow {
    pub organization_id: String,
    pub request: String,
    pub verifier: Vec<u8>,
    pub expires_at: i64,
}

/// A bring-your-own OAuth app (secret encrypted).
#[derive(Clone)]
pub struct AppRow {
    pub id: String,
    pub organization_id: String,
    pub provider: String,
    pub client_id: String,
    pub client_secret: Option<Vec<u8>>,
    pub tenant: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn app_row(r: crate::store::Row) -> AppRow {
    AppRow {
        id: r.get("id"),
        organization_id: r.get("organization_id"),
        provider: r.get("provider"),
        client_id: r.get("client_id"),
        client_secret: r.get("client_secret"),
        tenant: r.get("tenant"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

const APP_COLUMNS: &str =
    "id, organization_id, provider, client_id, client_secret, tenant, created_at, updated_at";

impl Store {
    pub async fn org_settings(&self, org: &str) -> Result<SettingsRow, sqlx::Error> {
        let row = sqlx::query(
            "SELECT redirect_allowlist, webhook_url, webhook_secret, raw_credential_apps, \
             event_bodies, display_name, logo_url, connect_return_url FROM org_settings \
             WHERE organization_id = $1",
        )
        .bind(org)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| SettingsRow {
                redirect_allowlist: list(r.get("redirect_allowlist")),
                webhook_url: r.get("webhook_url"),
                webhook_secret: r.get("webhook_secret"),
                raw_credential_apps: list(r.get("raw_credential_apps")),
                event_bodies: r.get::<i64, _>("event_bodies") != 0,
                display_name: r.get("display_name"),
                logo_url: r.get("logo_url"),
                connect_return_url: r.get("connect_return_url"),
            })
            .unwrap_or_default())
    }

    pub async fn put_org_settings(&self, org: &str, s: &SettingsRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO org_settings (organization_id, redirect_allowlist, webhook_url, \
             webhook_secret, raw_credential_apps, updated_at, event_bodies, display_name, \
             logo_url, connect_return_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (organization_id) DO UPDATE SET redirect_allowlist = $2, \
             webhook_url = $3, webhook_secret = $4, raw_credential_apps = $5, updated_at = $6, \
             event_bodies = $7, display_name = $8, logo_url = $9, connect_return_url = $10",
        )
        .bind(org)
        .bind(serde_json::to_string(&s.redirect_allowlist).expect("serializes"))
        .bind(&s.webhook_url)
        .bind(&s.webhook_secret)
        .bind(serde_json::to_string(&s.raw_credential_apps).expect("serializes"))
        .bind(now())
        .bind(i64::from(s.event_bodies))
        .bind(&s.display_name)
        .bind(&s.logo_url)
        .bind(&s.connect_return_url)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn insert_oauth_state(
        &self,
        state_hash: &str,
        org: &str,
        request: &str,
        verifier: &[u8],
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
            .bind(now() - 3600)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, organization_id, request, verifier, \
             expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state_hash)
        .bind(org)
        .bind(request)
        .bind(verifier)
        .bind(expires_at)
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Removes and returns the state (single use: one statement, so of two concurrent calls,
    /// on any backend and any replica, exactly one gets the row).
    pub async fn take_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<StateRow>, sqlx::Error> {
        let row = sqlx::query(
            "DELETE FROM oauth_states WHERE state_hash = $1 \
             RETURNING organization_id, request, verifier, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(StateRow {
                organization_id: r.try_get("organization_id")?,
                request: r.try_get("request")?,
                verifier: r.try_get("verifier")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn insert_connect_session(
        &self,
        token_hash: &str,
        org: &str,
        request: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM connect_sessions WHERE expires_at < $1")
            .bind(now() - 86_400)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO connect_sessions (token_hash, organization_id, request, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(org)
        .bind(request)
        .bind(expires_at)
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn connect_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConnectSessionRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT organization_id, request, expires_at, started_at, start, outcome \
             FROM connect_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(ConnectSessionRow {
                organization_id: r.try_get("organization_id")?,
                request: r.try_get("request")?,
                expires_at: r.try_get("expires_at")?,
                started_at: r.try_get("started_at")?,
                start: r.try_get("start")?,
                outcome: r.try_get("outcome")?,
            })
        })
        .transpose()
    }

    /// Marks the session started (single use: one statement, so of two concurrent starts
    /// exactly one wins); false when it was started already or has expired.
    pub async fn start_connect_session(
        &self,
        token_hash: &str,
        start: &str,
    ) -> Result<bool, sqlx::Error> {
        let t = now();
        let done = sqlx::query(
            "UPDATE connect_sessions SET started_at = $2, start = $3 \
             WHERE token_hash = $1 AND started_at IS NULL AND expires_at >= $2",
        )
        .bind(token_hash)
        .bind(t)
        .bind(start)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how the OAuth flow of a started session ended (once).
    pub async fn finish_connect_session(
        &self,
        token_hash: &str,
        outcome: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE connect_sessions SET outcome = $2 WHERE token_hash = $1 AND outcome IS NULL",
        )
        .bind(token_hash)
        .bind(outcome)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Test hook and maintenance: moves every connect session of an organization into the past.
    pub async fn expire_connect_sessions(&self, org: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE connect_sessions SET expires_at = $1 WHERE organization_id = $2")
            .bind(now() - 1)
            .bind(org)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Test hook and maintenance: moves every state of an organization into the past.
    pub async fn expire_oauth_states(&self, org: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE oauth_states SET expires_at = $1 WHERE organization_id = $2")
            .bind(now() - 1)
            .bind(org)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn insert_oauth_app(
        &self,
        org: &str,
        provider: &str,
        client_id: &str,
        secret: Option<&[u8]>,
        tenant: Option<&str>,
    ) -> Result<AppRow, sqlx::Error> {
        let id = new_id();
        let now = now();
        sqlx::query(
            "INSERT INTO oauth_apps (id, organization_id, provider, client_id, client_secret, \
             tenant, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(org)
        .bind(provider)
        .bind(client_id)
        .bind(secret)
        .bind(tenant)
        .bind(now)
        .execute(self.pool())
        .await?;
        self.oauth_app(org, &id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn oauth_app(&self, org: &str, id: &str) -> Result<Option<AppRow>, sqlx::Error> {
        let sql =
            format!("SELECT {APP_COLUMNS} FROM oauth_apps WHERE id = $1 AND organization_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(org)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(app_row))
    }

    pub async fn oauth_apps(&self, org: &str) -> Result<Vec<AppRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM oauth_apps WHERE organization_id = $1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).bind(org).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(app_row).collect())
    }

    pub async fn update_oauth_app(&self, a: &AppRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE oauth_apps SET client_id = $1, client_secret = $2, tenant = $3, \
             updated_at = $4 WHERE id = $5 AND organization_id = $6",
        )
        .bind(&a.client_id)
        .bind(&a.client_secret)
        .bind(&a.tenant)
        .bind(now())
        .bind(&a.id)
        .bind(&a.organization_id)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn delete_oauth_app(&self, org: &str, id: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM oauth_apps WHERE id = $1 AND organization_id = $2")
            .bind(id)
            .bind(org)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// The connector already made for this account and customer, if any.
    pub async fn linked_connector(
        &self,
        org: &str,
        customer: &str,
        connector_type: &str,
        account: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT connector_id FROM oauth_links WHERE organization_id = $1 AND \
             customer_name = $2 AND connector_type = $3 AND account = $4",
        )
        .bind(org)
        .bind(customer)
        .bind(connector_type)
        .bind(account)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.get("connector_id")))
    }

    pub async fn put_link(&self, l: &Link<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO oauth_links (connector_id, organization_id, customer_name, \
             connector_type, account, aliases, oauth_app_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (connector_id) DO UPDATE SET account = $5, aliases = $6, oauth_app_id = $7",
        )
        .bind(l.connector_id)
        .bind(l.organization_id)
        .bind(l.customer_name)
        .bind(l.connector_type)
        .bind(l.account)
        .bind(serde_json::to_string(l.aliases).expect("serializes"))
        .bind(l.oauth_app_id)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Connectors made with a BYO app.
    pub async fn connectors_of_app(
        &self,
        org: &str,
        app_id: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT connector_id FROM oauth_links WHERE organization_id = $1 AND oauth_app_id = $2",
        )
        .bind(org)
        .bind(app_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| r.get("connector_id")).collect())
    }

    /// The account a connector was authorized for: (account, aliases, BYO app id).
    #[allow(clippy::type_complexity)]
    pub async fn link_of(
        &self,
        connector_id: &str,
    ) -> Result<Option<(String, Vec<String>, Option<String>)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT account, aliases, oauth_app_id FROM oauth_links WHERE connector_id = $1",
        )
        .bind(connector_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| {
            (
                r.get("account"),
                list(r.get("aliases")),
                r.get("oauth_app_id"),
            )
        }))
    }

    /// The scopes granted at authorization.
    pub async fn set_connector_scopes(&self, id: &str, scopes: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE connectors SET scopes = $1 WHERE id = $2")
            .bind(scopes)
            .bind(id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Stores a reconnect link (its token's hash) for a connector; drops long-expired links.
    pub async fn insert_reconnect_link(
        &self,
        token_hash: &str,
        org: &str,
        connector_id: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM reconnect_links WHERE expires_at < $1")
            .bind(now() - 86_400)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO reconnect_links (token_hash, organization_id, connector_id, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(org)
        .bind(connector_id)
        .bind(expires_at)
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// `(organization_id, connector_id, expires_at)` of a reconnect link.
    pub async fn reconnect_link(
        &self,
        token_hash: &str,
    ) -> Result<Option<(String, String, i64)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT organization_id, connector_id, expires_at FROM reconnect_links \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok((
                r.try_get("organization_id")?,
                r.try_get("connector_id")?,
                r.try_get("expires_at")?,
            ))
        })
        .transpose()
    }

    /// Voids every reconnect link of a connector (it is active again, or deleted).
    pub async fn void_reconnect_links(&self, connector_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM reconnect_links WHERE connector_id = $1")
            .bind(connector_id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Test hook: moves every reconnect link of an organization into the past.
    pub async fn expire_reconnect_links(&self, org: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE reconnect_links SET expires_at = $1 WHERE organization_id = $2")
            .bind(now() - 1)
            .bind(org)
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}
