//! Revocation when a connector is deleted: best effort, logged, never blocks the delete.

use super::exchange::{http_client, revoke, ClientCreds};
use super::provider::endpoints;
use crate::credentials::StoredCredentials;
use crate::registry::ConnectorType;
use crate::store::ConnectorRow;
use crate::vault::Vault;

/// Revokes the connector's refresh token (else its access token) at the provider. Call it
/// before the row (and with it the encrypted secrets) is deleted.
pub async fn revoke_connector(vault: &Vault, kind: &ConnectorType, row: &ConnectorRow) {
    let id = &row.id;
    let Ok(plain) = vault.decrypt(&row.organization_id, &row.credentials).await else {
        tracing::warn!(connector_id = %id, "revocation skipped: credentials do not decrypt");
        return;
    };
    let Ok(creds) = StoredCredentials::from_json(&plain) else {
        return;
    };
    let tenant = creds
        .get("tenant")
        .map(|t| t.expose().to_string())
        .unwrap_or_default();
    let Some(url) = endpoints(kind, &tenant).revoke else {
        tracing::info!(connector_id = %id, "provider has no revocation endpoint; secrets erased only");
        return;
    };
    // The connector's own app (bring-your-own), else the platform app it was authorized with:
    // RFC 7009 asks a confidential client to authenticate when it revokes.
    let client = match creds.get("client_id") {
        Some(c) => Some(ClientCreds {
            client_id: c.expose().to_string(),
            client_secret: creds.get("client_secret").cloned(),
        }),
        None => kind.provider.client_id.as_ref().map(|id| ClientCreds {
            client_id: id.clone(),
            client_secret: kind.provider.client_secret.clone(),
        }),
    };
    let http = http_client();
    for field in ["refresh_token", "access_token"] {
        if let Some(token) = creds.get(field) {
            let ok = revoke(&http, &url, token, client.as_ref()).await;
            tracing::info!(connector_id = %id, token = field, revoked = ok, "token revocation at the provider");
        }
    }
}
