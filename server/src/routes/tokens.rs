//! `POST /api/v1/account/applications/token`: client credentials -> bearer token. No auth.

use actix_web::{web, HttpRequest, HttpResponse};
use api_types::{TokenRequest, TokenResponse};

use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/account/applications/token", web::post().to(token));
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
        (status = 429, description = "`rate_limited`: too many requests from this address, too many failed requests for this client_id, or too many at once; wait `Retry-After` seconds", body = crate::error::ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
    )
)]
async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let source = req.peer_addr().map(|a| a.ip());
    let body = body.0;
    let issued = state
        .services
        .applications
        .issue_token(&body.client_id, &body.client_secret, source)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            access_token: issued.access_token.expose().to_string(),
            token_type: "Bearer".into(),
            expires_in: issued.expires_in,
        }))
}
