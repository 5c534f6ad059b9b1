//! The OAuth flow: `POST .../connectors/oauth/initiate`, `GET .../connectors/oauth/callback`
//! (no API token; its query string is never logged), `POST .../connectors/{id}/reauthorize`,
//! and `GET .../connectors/{id}/account` (address and send-as aliases read at consent).

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use api_types::{AccountView, ConsentUrl, InitiateRequest, ReauthorizeRequest};
use serde::Deserialize;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::services::oauth::Outcome;
use crate::AppState;

const BASE: &str = "/api/v1/integrations/connectors";
pub const CALLBACK_PATH: &str = "/api/v1/integrations/connectors/oauth/callback";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{BASE}/oauth/initiate"), web::post().to(initiate))
        .route(CALLBACK_PATH, web::get().to(callback))
        .route(
            &format!("{BASE}/{{id}}/reauthorize"),
            web::post().to(reauthorize),
        )
        .route(&format!("{BASE}/{{id}}/account"), web::get().to(account));
}

/// What the provider appends to the callback URL.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The flow's state (binds the callback to its initiate call).
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The provider's error code when the end user declined or the provider refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// This server's callback URL as the request reached it.
fn callback_url(req: &HttpRequest) -> String {
    let c = req.connection_info();
    format!("{}://{}{CALLBACK_PATH}", c.scheme(), c.host())
}

/// Starts the OAuth flow; the connector is created when the provider redirects back.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/oauth/initiate",
    operation_id = "oauth_initiate",
    tag = "oauth",
    request_body = InitiateRequest,
    responses(
        (status = 200, description = "The consent URL", body = ConsentUrl),
        (status = 404, description = "`not_found`: unknown `oauth_app_id`", body = crate::error::ErrorBody),
    )
)]
async fn initiate(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<InitiateRequest>,
) -> ApiResult<HttpResponse> {
    let consent = state
        .services
        .oauth
        .initiate(&auth.organization_id, body.0, &callback_url(&req))
        .await?;
    Ok(HttpResponse::Ok().json(consent))
}

/// Starts the OAuth flow again for an existing connector.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/{id}/reauthorize",
    operation_id = "oauth_reauthorize",
    tag = "oauth",
    params(("id" = String, Path, description = "Connector id")),
    request_body = ReauthorizeRequest,
    responses(
        (status = 200, description = "The consent URL", body = ConsentUrl),
    )
)]
async fn reauthorize(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: ApiJson<ReauthorizeRequest>,
) -> ApiResult<HttpResponse> {
    let consent = state
        .services
        .oauth
        .reauthorize(&auth.organization_id, &id, body.0, &callback_url(&req))
        .await?;
    Ok(HttpResponse::Ok().json(consent))
}

/// Where the provider redirects the end user. No API token (the `state` binds it to its
/// initiate call); its query string is never logged.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/oauth/callback",
    operation_id = "oauth_callback",
    tag = "oauth",
    params(CallbackQuery),
    responses(
        (status = 302, description = "To the caller's `redirect_url` with `?connector_id=...`, or `?error=...&error_description=...` when the flow failed",
            headers(("Location" = String, description = "The caller's redirect_url with the outcome"))),
        (status = 400, description = "Unknown, used or tampered `state`: a plain-text page", content_type = "text/plain", body = String),
        (status = 429, description = "Too many callback requests from this address (60, refilled at 10 per second): a plain-text page; wait `Retry-After` seconds", content_type = "text/plain", body = String,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 500, description = "Internal error: a plain-text page", content_type = "text/plain", body = String),
    )
)]
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    if let Err(wait) = state
        .services
        .oauth
        .admit_callback(req.peer_addr().map(|a| a.ip()))
    {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.to_string()))
            .insert_header(("Cache-Control", "no-store"))
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "Too many requests.\n\nToo many authorization callbacks from this address; try again in {secs} seconds.\n"
            ));
    }
    match state.services.oauth.callback(&query).await {
        Outcome::Redirect(to) => HttpResponse::Found()
            .insert_header(("Location", to))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Outcome::Page(status, text) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
        )
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(format!("Authorization failed.\n\n{text}\n")),
    }
}

/// The account (address, aliases) an OAuth connector was authorized for.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/account",
    operation_id = "get_connector_account",
    tag = "oauth",
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
    )
)]
async fn account(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let account = state
        .services
        .oauth
        .account(&auth.organization_id, &id)
        .await?;
    Ok(HttpResponse::Ok().json(account))
}
