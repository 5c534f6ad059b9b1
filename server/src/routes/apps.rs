//! Application management for organization admins (see [`crate::services::applications`] for who is one):
//!
//! - `GET  /api/v1/account/applications` -> `{"data": [{client_id, organization_id, created_at, revoked, revoked_at, admin}]}`
//! - `POST /api/v1/account/applications/{client_id}/revoke` -> the application, revoked; its tokens stop working at once
//! - `POST /api/v1/account/applications/{client_id}/rotate-secret` -> `{organization_id, client_id, client_secret}` (shown once)
//!
//! Callers that are not admins get 403 `permission_denied`; another organization's
//! applications are 404 `not_found`.

use actix_web::{web, HttpResponse};
use api_types::{ApplicationList, ApplicationView, RotatedSecret};
use connector_core::{ConnectorError, ErrorCode};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/account/applications", web::get().to(list))
        .route(
            "/api/v1/account/applications/{client_id}/revoke",
            web::post().to(revoke),
        )
        .route(
            "/api/v1/account/applications/{client_id}/rotate-secret",
            web::post().to(rotate_secret),
        );
}

async fn require_admin(state: &AppState, auth: &Auth) -> ApiResult<()> {
    if state
        .services
        .applications
        .is_admin(&auth.organization_id, &auth.application_id)
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::from(ConnectorError::new(
            ErrorCode::PermissionDenied,
            "only the organization's admin application (its oldest application that is not revoked) manages applications",
        )))
    }
}

fn app_not_found() -> ApiError {
    ApiError::not_found("no application with this client_id in your organization")
}

/// Lists the organization's applications (admin application only).
#[utoipa::path(
    get,
    path = "/api/v1/account/applications",
    operation_id = "list_applications",
    tag = "applications",
    responses(
        (status = 200, description = "The applications", body = ApplicationList),
        (status = 403, description = "`permission_denied`: the caller is not the admin application", body = crate::error::ErrorBody),
    )
)]
async fn list(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let apps = state
        .services
        .applications
        .list(&auth.organization_id)
        .await?;
    Ok(HttpResponse::Ok().json(ApplicationList {
        data: apps.into_iter().map(ApplicationView::from).collect(),
    }))
}

/// Revokes an application: its tokens stop working at once (admin application only).
#[utoipa::path(
    post,
    path = "/api/v1/account/applications/{client_id}/revoke",
    operation_id = "revoke_application",
    tag = "applications",
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 200, description = "The application, revoked", body = ApplicationView),
        (status = 403, description = "`permission_denied`: the caller is not the admin application", body = crate::error::ErrorBody),
        (status = 404, description = "`not_found`: no such application in the organization", body = crate::error::ErrorBody),
        (status = 409, description = "`conflict`: the organization's last application that is not revoked (create another first)", body = crate::error::ErrorBody),
    )
)]
async fn revoke(
    auth: Auth,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let app = state
        .services
        .applications
        .revoke(&auth.organization_id, &path)
        .await?
        .ok_or_else(app_not_found)?;
    tracing::info!(client_id = %app.client_id, "application revoked");
    Ok(HttpResponse::Ok().json(ApplicationView::from(app)))
}

/// Issues a new client secret (shown once); the old one stops working (admin application only).
#[utoipa::path(
    post,
    path = "/api/v1/account/applications/{client_id}/rotate-secret",
    operation_id = "rotate_application_secret",
    tag = "applications",
    params(("client_id" = String, Path, description = "The application's client id")),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        (status = 403, description = "`permission_denied`: the caller is not the admin application", body = crate::error::ErrorBody),
        (status = 404, description = "`not_found`: no such application in the organization", body = crate::error::ErrorBody),
        (status = 409, description = "`conflict`: the application is revoked", body = crate::error::ErrorBody),
    )
)]
async fn rotate_secret(
    auth: Auth,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let secret = state
        .services
        .applications
        .rotate_secret(&auth.organization_id, &path)
        .await?
        .ok_or_else(app_not_found)?
        .map_err(|_| {
            ApiError::from(ConnectorError::new(
                ErrorCode::Conflict,
                "this application is revoked; create a new one instead",
            ))
        })?;
    tracing::info!(client_id = %path, "application secret rotated");
    Ok(HttpResponse::Ok().json(RotatedSecret {
        organization_id: auth.organization_id,
        client_id: path.into_inner(),
        client_secret: secret.expose().to_string(),
    }))
}
