//! Raw credential reads (`GET .../connectors/{id}/credential`): a fresh access token for
//! callers that call the provider themselves.
//!
//! Off by default: only applications the organization lists in its settings
//! (`raw_credential_apps`, by client id) may read it; others get `permission_denied`. The token
//! comes through the same locked refresh path as execute (one refresh across replicas, rotated
//! tokens stored first). Each read is logged with the application and connector, never the
//! token.

use connector_core::{ConnectorError, ErrorCode};
use serde_json::json;

use super::connectors::Connectors;
use crate::error::db;
use crate::lifecycle::{Token, Want};

impl Connectors {
    /// A fresh access token of the connector, for the application `application_id`.
    pub async fn raw_credential(
        &self,
        org: &str,
        application_id: &str,
        id: &str,
    ) -> Result<Token, ConnectorError> {
        let row = self.get(org, id).await?;
        let client_id = self
            .store
            .application_client_id(application_id)
            .await
            .map_err(db)?
            .unwrap_or_default();
        let settings = self.store.org_settings(org).await.map_err(db)?;
        if !settings
            .raw_credential_apps
            .iter()
            .any(|a| a == &client_id || a == application_id)
        {
            tracing::warn!(
                connector_id = %row.id,
                client_id = %client_id,
                "raw credential read refused: application not allowed"
            );
            return Err(ConnectorError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "application {client_id} may not read raw credentials: an organization admin must add it to `raw_credential_apps` in the organization settings (PUT /api/v1/organization/settings)"
                ),
            )
            .with_details(json!({"client_id": client_id})));
        }
        let token = self
            .runtime
            .lifecycle()
            .token(org, &row.id, Want::Fresh)
            .await?
            .ok_or_else(|| crate::error::internal("the token read was skipped"))?;
        tracing::info!(
            connector_id = %row.id,
            client_id = %client_id,
            refreshed = token.refreshed,
            "raw credential read"
        );
        Ok(token)
    }
}
