//! `GET /api/v1/integrations/connectors/{id}/credential`.

use serde::{Deserialize, Serialize};

/// A fresh access token of the connector, for callers that call the provider themselves.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialView {
    pub connector_id: String,
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When the access token expires; null when the provider did not say.
    #[schema(required, format = DateTime)]
    pub expires_at: Option<String>,
}
