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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    client_id: String,
    client_secret: Secret,
}

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
