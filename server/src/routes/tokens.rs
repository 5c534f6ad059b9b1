//! `POST /api/v1/account/applications/token`: client credentials -> bearer token. No auth.

use actix_web::{web, HttpResponse};
use connector_core::Secret;
use serde::Deserialize;
use serde_json::json;

use crate::auth::issue_token;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/account/applications/token", web::post().to(token));
}

/// Client credentials of an API application.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    client_id: String,
    #[schema(value_type = String, format = Password)]
    client_secret: Secret,
}

/// A bearer token for `Authorization: Bearer ...` (send `X-Organization-Id` with it).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Exchanges an application's client credentials for a bearer token. No auth.
#[utoipa::path(
    post,
    path = "/api/v1/account/applications/token",
    operation_id = "issue_token",
    tag = "applications",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`unauthenticated`: invalid client_id or client_secret (or the application is revoked)", body = crate::error::ErrorBody),
    )
)]
async fn token(state: web::Data<AppState>, body: ApiJson<TokenRequest>) -> ApiResult<HttpResponse> {
    let req = body.0;
    let issued = issue_token(
        &state.store,
        &req.client_id,
        req.client_secret.expose(),
        state.config.token_ttl_secs,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "access_token": issued.access_token.expose(),
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        })))
}
