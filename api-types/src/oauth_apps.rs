//! Bring-your-own OAuth apps under `/api/v1/oauth-apps`.

use connector_core::Secret;
use serde::{Deserialize, Serialize};

/// A bring-your-own OAuth app (the organization's own client at Google or Microsoft).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthAppRequest {
    /// Connector type: `gmail` or `outlook`.
    pub provider: String,
    /// The app's client id at the provider (not blank).
    #[schema(min_length = 1, pattern = r"\S")]
    pub client_id: String,
    /// Encrypted at rest, never returned.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(serialize_with = "crate::expose::optional_secret")]
    pub client_secret: Option<Secret>,
    /// Microsoft: the app's tenant.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// Changes only the fields it names; a new secret reaches every connector made with the app.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOAuthAppRequest {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(serialize_with = "crate::expose::optional_secret")]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub tenant: Option<String>,
}

/// An OAuth app as responses show it (never its secret).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthAppView {
    pub id: String,
    /// `gmail` or `outlook`.
    pub provider: String,
    pub client_id: String,
    pub client_secret_set: bool,
    #[schema(required)]
    pub tenant: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// `{"data": [...]}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthAppList {
    pub data: Vec<OAuthAppView>,
}
