//! `GET/PUT /api/v1/organization/settings`: redirect URL allow-list, webhook URL and signing
//! secret (encrypted by the vault, never returned), applications allowed to read raw
//! credentials. PUT changes only the fields it names.

use actix_web::{web, HttpResponse};
pub use api_types::{SettingsChange, SettingsView};
use serde_json::json;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::oauth::redirect::valid_entry;
use crate::store::SettingsRow;
use crate::AppState;

pub const PATH: &str = "/api/v1/organization/settings";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::get().to(get))
            .route(web::put().to(put)),
    );
}

pub fn view(s: &SettingsRow) -> SettingsView {
    SettingsView {
        redirect_allowlist: s.redirect_allowlist.clone(),
        webhook_url: s.webhook_url.clone(),
        webhook_secret_set: s.webhook_secret.is_some(),
        raw_credential_apps: s.raw_credential_apps.clone(),
        event_bodies: s.event_bodies,
    }
}

/// Validates and stores a change; returns the new settings.
pub async fn apply(state: &AppState, org: &str, c: SettingsChange) -> ApiResult<SettingsRow> {
    let mut s = state.store.org_settings(org).await?;
    if let Some(list) = c.redirect_allowlist {
        for e in &list {
            valid_entry(e).map_err(|m| {
                ApiError::from(
                    connector_core::ConnectorError::invalid_params(m)
                        .with_details(json!({"path": "redirect_allowlist"})),
                )
            })?;
        }
        s.redirect_allowlist = list;
    }
    if let Some(u) = c.webhook_url {
        if u.is_empty() {
            s.webhook_url = None;
            s.webhook_secret = None;
        } else {
            valid_entry(&u).map_err(ApiError::invalid)?;
            s.webhook_url = Some(u);
        }
    }
    if let Some(secret) = c.webhook_secret {
        s.webhook_secret = Some(state.vault.encrypt_secret(org, &secret).await?.0);
    }
    if let Some(apps) = c.raw_credential_apps {
        s.raw_credential_apps = apps;
    }
    if let Some(on) = c.event_bodies {
        s.event_bodies = on;
    }
    state.store.put_org_settings(org, &s).await?;
    Ok(s)
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
    let s = state.store.org_settings(&auth.organization_id).await?;
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
    let s = apply(&state, &auth.organization_id, body.0).await?;
    Ok(HttpResponse::Ok().json(view(&s)))
}
