//! Application management for organization admins.

use serde::{Deserialize, Serialize};

/// An application as listed (never its secret or hash).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationView {
    pub client_id: String,
    pub organization_id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub revoked: bool,
    /// Unix seconds; null while not revoked.
    #[schema(required)]
    pub revoked_at: Option<i64>,
    /// The organization's admin application (its oldest one that is not revoked).
    pub admin: bool,
}

/// `{"data": [...]}`, oldest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationList {
    pub data: Vec<ApplicationView>,
}

/// A new client secret, shown once.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotatedSecret {
    pub organization_id: String,
    pub client_id: String,
    pub client_secret: String,
}
