//! Application management: list, revoke and rotate-secret, shared by the CLI
//! (`connectors apps list|revoke|rotate-secret --org ORG`) and the API (for organization admins).
//!
//! **Who is an admin:** the organization's oldest application that is not revoked — the first
//! `connectors apps create --org ORG` (and the sandbox's application). Revoking it makes the
//! next oldest the admin; the CLI, which works on the database directly, always can.
//!
//! Revoking an application deletes its bearer tokens, and token lookups also refuse tokens of
//! revoked applications, so its tokens stop working at once (on every replica). Rotating the
//! secret also deletes its tokens: a rotation usually means the old secret leaked.

use connector_core::Secret;
use serde::Serialize;
use sqlx::Row;

use crate::store::{now, Store};

/// An application as listed (never its secret or hash).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppInfo {
    pub client_id: String,
    pub organization_id: String,
    pub created_at: i64,
    pub revoked: bool,
    pub revoked_at: Option<i64>,
    pub admin: bool,
}

/// The organization's applications, oldest first, with the admin marked.
pub async fn list(store: &Store, org: &str) -> Result<Vec<AppInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT client_id, organization_id, created_at, revoked_at FROM applications \
         WHERE organization_id = $1 ORDER BY created_at, id",
    )
    .bind(org)
    .fetch_all(store.pool())
    .await?;
    let mut admin_seen = false;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let revoked_at: Option<i64> = r.try_get("revoked_at")?;
        let admin = revoked_at.is_none() && !admin_seen;
        admin_seen |= admin;
        out.push(AppInfo {
            client_id: r.try_get("client_id")?,
            organization_id: r.try_get("organization_id")?,
            created_at: r.try_get("created_at")?,
            revoked: revoked_at.is_some(),
            revoked_at,
            admin,
        });
    }
    Ok(out)
}

/// Whether the application (by its internal id) is its organization's admin.
pub async fn is_admin(store: &Store, org: &str, application_id: &str) -> Result<bool, sqlx::Error> {
    let first: Option<String> = sqlx::query_scalar(
        "SELECT id FROM applications WHERE organization_id = $1 AND revoked_at IS NULL \
         ORDER BY created_at, id LIMIT 1",
    )
    .bind(org)
    .fetch_optional(store.pool())
    .await?;
    Ok(first.as_deref() == Some(application_id))
}

/// Revokes an application of the organization and deletes its tokens. `None` when the
/// organization has no application with this client id.
pub async fn revoke(
    store: &Store,
    org: &str,
    client_id: &str,
) -> Result<Option<AppInfo>, sqlx::Error> {
    let Some(id) = app_id(store, org, client_id).await? else {
        return Ok(None);
    };
    sqlx::query("UPDATE applications SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now())
        .bind(&id)
        .execute(store.pool())
        .await?;
    drop_tokens(store, &id).await?;
    crate::auth::forget_application(&id);
    Ok(list(store, org)
        .await?
        .into_iter()
        .find(|a| a.client_id == client_id))
}

/// Gives the application a new client secret (returned once) and deletes its tokens. `None`
/// when the organization has no such application; revoked applications cannot be rotated.
pub async fn rotate_secret(
    store: &Store,
    org: &str,
    client_id: &str,
) -> anyhow::Result<Option<Result<Secret, RevokedApp>>> {
    let Some(id) = app_id(store, org, client_id).await? else {
        return Ok(None);
    };
    let revoked: Option<i64> =
        sqlx::query_scalar("SELECT revoked_at FROM applications WHERE id = $1")
            .bind(&id)
            .fetch_one(store.pool())
            .await?;
    if revoked.is_some() {
        return Ok(Some(Err(RevokedApp)));
    }
    let secret = new_client_secret();
    let hash = tokio::task::spawn_blocking({
        let s = secret.expose().to_string();
        move || crate::auth::hash_secret(&s)
    })
    .await??;
    sqlx::query("UPDATE applications SET secret_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(&id)
        .execute(store.pool())
        .await?;
    drop_tokens(store, &id).await?;
    crate::auth::forget_application(&id);
    Ok(Some(Ok(secret)))
}

/// The application is revoked.
#[derive(Debug)]
pub struct RevokedApp;

async fn app_id(store: &Store, org: &str, client_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM applications WHERE organization_id = $1 AND client_id = $2")
        .bind(org)
        .bind(client_id)
        .fetch_optional(store.pool())
        .await
}

async fn drop_tokens(store: &Store, application_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM app_tokens WHERE application_id = $1")
        .bind(application_id)
        .execute(store.pool())
        .await
        .map(|_| ())
}

/// A new client secret, in the format `auth::create_application` uses.
fn new_client_secret() -> Secret {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    Secret::new(format!(
        "cs_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
    ))
}
