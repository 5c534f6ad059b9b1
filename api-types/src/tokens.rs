//! `POST /api/v1/account/applications/token`.

use connector_core::Secret;
use serde::{Deserialize, Serialize};

/// Client credentials of an API application.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub client_id: String,
    #[schema(value_type = String, format = Password)]
    #[serde(serialize_with = "crate::expose::secret")]
    pub client_secret: Secret,
}

/// A bearer token for `Authorization: Bearer ...` (send `X-Organization-Id` with it).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}
