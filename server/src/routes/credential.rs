//! `GET /api/v1/integrations/connectors/{id}/credential` (also `/connectors/{id}/credential`):
//! a fresh access token and its expiry, for callers that call the provider themselves.
//! Who may read it: [`crate::services::Connectors::raw_credential`].

use actix_web::{web, HttpResponse};
use api_types::CredentialView;
use chrono::{TimeZone, Utc};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::AppState;

pub const PATH: &str = "/api/v1/integrations/connectors/{id}/credential";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(get));
}

/// A fresh access token (refreshed under the connector's lock when near expiry). Only
/// applications listed in the organization's `raw_credential_apps` may read it.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/credential",
    operation_id = "get_connector_credential",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, description = "The access token", body = CredentialView,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 403, description = "`permission_denied`: the application is not in `raw_credential_apps`", body = crate::error::ErrorBody),
        (status = 424, description = "`needs_reauth`: the refresh token was revoked or expired", body = crate::error::ErrorBody),
        (status = 429, description = "`rate_limited`: the provider throttled the refresh", body = crate::error::ErrorBody),
        (status = 502, description = "`provider_error`: the provider refused the refresh", body = crate::error::ErrorBody),
        (status = 503, description = "`provider_unavailable`: the provider could not be reached", body = crate::error::ErrorBody),
    )
)]
async fn get(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = state
        .services
        .connectors
        .raw_credential(&auth.organization_id, &auth.application_id, &id)
        .await?;
    let expires_at = token
        .expires_at
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(CredentialView {
            connector_id: id.into_inner(),
            access_token: token.access_token.expose().to_string(),
            token_type: "Bearer".into(),
            expires_at,
        }))
}
