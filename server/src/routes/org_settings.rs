//! `GET/PUT /api/v1/organization/settings`: redirect URL allow-list, webhook URL and signing
//! secret (encrypted by the vault, never returned), applications allowed to read raw
//! credentials. PUT changes only the fields it names.

use actix_web::{web, HttpResponse};
pub use api_types::{SettingsChange, SettingsView};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::services::settings::view;
use crate::AppState;

pub const PATH: &str = "/api/v1/organization/settings";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::get().to(get))
            .route(web::put().to(put)),
    );
}

/// The organization's settings.
#[utoipa::path(
    get,
    path = "/api/v1/organization/settings",
    operation_id = "get_organization_settings",
    tag = "organization",
    responses(
        (status = 200, description = "The settings", body = SettingsView),
    )
)]
async fn get(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let s = state.services.settings.get(&auth.organization_id).await?;
    Ok(HttpResponse::Ok().json(view(&s)))
}

/// Changes the fields the body names.
#[utoipa::path(
    put,
    path = "/api/v1/organization/settings",
    operation_id = "put_organization_settings",
    tag = "organization",
    request_body = SettingsChange,
    responses(
        (status = 200, description = "The new settings", body = SettingsView),
    )
)]
async fn put(
    auth: Auth,
    state: web::Data<AppState>,
    body: ApiJson<SettingsChange>,
) -> ApiResult<HttpResponse> {
    let s = state
        .services
        .settings
        .apply(&auth.organization_id, body.0)
        .await?;
    Ok(HttpResponse::Ok().json(view(&s)))
}
