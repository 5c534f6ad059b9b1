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

/// RFC 6749 §5.2 error answer of the OAuth token endpoint (`POST /oauth/token`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `invalid_target` (RFC 8707) or `unsupported_response_type` (authorization endpoint).
    pub error: String,
    /// What was wrong and how to fix it.
    pub error_description: String,
}

/// RFC 9728 protected-resource metadata of the MCP endpoint.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProtectedResourceMetadata {
    /// The resource's URL (`<base>/mcp`).
    pub resource: String,
    pub resource_name: String,
    /// Issuers whose tokens the resource takes: this server (see its
    /// `/.well-known/oauth-authorization-server`).
    pub authorization_servers: Vec<String>,
    /// Always `["header"]`.
    pub bearer_methods_supported: Vec<String>,
}

/// RFC 8414 authorization-server metadata: this server issues application tokens through the
/// `client_credentials` grant only.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthorizationServerMetadata {
    /// The server's base URL.
    pub issuer: String,
    /// Refuses every request (`unsupported_response_type`): no grant here involves a browser.
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// Empty: the authorization endpoint supports no response type.
    pub response_types_supported: Vec<String>,
    /// `["client_credentials"]`.
    pub grant_types_supported: Vec<String>,
    /// `client_secret_basic` and `client_secret_post`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub service_documentation: String,
}
