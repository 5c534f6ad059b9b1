//! The OAuth flow: initiate, reauthorize, the authorized account.

use serde::{Deserialize, Serialize};

use crate::connectors::ReplicationConfig;

/// Starts the OAuth flow for a new connector. `scopes`: `"full"` (default), `"readonly"`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitiateRequest {
    /// The end user the connector will belong to (not blank).
    #[schema(min_length = 1, pattern = r"\S")]
    pub customer_name: String,
    #[serde(default)]
    pub connector_type: Option<String>,
    #[serde(default)]
    pub definition_id: Option<String>,
    pub redirect_url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub replication_config: Option<ReplicationConfig>,
    /// `full` (default) or `readonly`.
    #[serde(default)]
    pub scopes: Option<String>,
    /// Microsoft: common, organizations, consumers or a tenant id.
    #[serde(default)]
    pub tenant: Option<String>,
    /// A bring-your-own app of the organization (default: its app for the provider, else the
    /// platform app).
    #[serde(default)]
    pub oauth_app_id: Option<String>,
}

/// Starts the OAuth flow again for an existing connector (new tokens replace the old ones).
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthorizeRequest {
    /// Where the end user lands afterwards; must be on the organization's allow-list.
    pub redirect_url: String,
    /// `full` (default) or `readonly`.
    #[serde(default)]
    pub scopes: Option<String>,
    /// Microsoft: common, organizations, consumers or a tenant id.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The provider's consent page to send the end user to.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentUrl {
    pub consent_url: String,
    /// Reauthorize only: the connector that will receive the new tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<String>,
}

/// The account an OAuth connector was authorized for.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountView {
    pub connector_id: String,
    /// The mailbox address read at consent.
    pub account: String,
    /// Send-as aliases read at consent.
    pub aliases: Vec<String>,
    /// The bring-your-own OAuth app used, or null for the platform app.
    #[schema(required)]
    pub oauth_app_id: Option<String>,
}
