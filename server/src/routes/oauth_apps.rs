//! Bring-your-own OAuth apps: `/api/v1/oauth-apps` (create, list, get, update, delete).
//! Secrets are encrypted by the vault and never returned. A new secret reaches every
//! connector made with the app at once.

use actix_web::{web, HttpResponse};
use api_types::{CreateOAuthAppRequest, OAuthAppList, OAuthAppView, UpdateOAuthAppRequest};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::services::oauth_apps::view;
use crate::AppState;

const BASE: &str = "/api/v1/oauth-apps";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(BASE)
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource(format!("{BASE}/{{id}}"))
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// Registers a bring-your-own OAuth app.
#[utoipa::path(
    post,
    path = "/api/v1/oauth-apps",
    operation_id = "create_oauth_app",
    tag = "oauth-apps",
    request_body = CreateOAuthAppRequest,
    responses(
        (status = 201, description = "The app", body = OAuthAppView),
    )
)]
async fn create(
    auth: Auth,
    state: web::Data<AppState>,
    body: ApiJson<CreateOAuthAppRequest>,
) -> ApiResult<HttpResponse> {
    let app = state
        .services
        .oauth_apps
        .create(&auth.organization_id, body.0)
        .await?;
    Ok(HttpResponse::Created().json(view(&app)))
}

/// The organization's OAuth apps.
#[utoipa::path(
    get,
    path = "/api/v1/oauth-apps",
    operation_id = "list_oauth_apps",
    tag = "oauth-apps",
    responses(
        (status = 200, description = "The apps", body = OAuthAppList),
    )
)]
async fn list(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let apps = state
        .services
        .oauth_apps
        .list(&auth.organization_id)
        .await?;
    Ok(HttpResponse::Ok().json(OAuthAppList {
        data: apps.iter().map(view).collect(),
    }))
}

/// Reads an OAuth app (never its secret).
#[utoipa::path(
    get,
    path = "/api/v1/oauth-apps/{id}",
    operation_id = "get_oauth_app",
    tag = "oauth-apps",
    params(("id" = String, Path, description = "OAuth app id")),
    responses(
        (status = 200, description = "The app", body = OAuthAppView),
    )
)]
async fn get(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let app = state
        .services
        .oauth_apps
        .get(&auth.organization_id, &id)
        .await?;
    Ok(HttpResponse::Ok().json(view(&app)))
}

/// Changes an OAuth app; a new client id or secret reaches its connectors at once.
#[utoipa::path(
    patch,
    path = "/api/v1/oauth-apps/{id}",
    operation_id = "update_oauth_app",
    tag = "oauth-apps",
    params(("id" = String, Path, description = "OAuth app id")),
    request_body = UpdateOAuthAppRequest,
    responses(
        (status = 200, description = "The updated app", body = OAuthAppView),
    )
)]
async fn update(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<UpdateOAuthAppRequest>,
) -> ApiResult<HttpResponse> {
    let app = state
        .services
        .oauth_apps
        .update(&auth.organization_id, &id, body.0)
        .await?;
    Ok(HttpResponse::Ok().json(view(&app)))
}

/// Deletes an OAuth app.
#[utoipa::path(
    delete,
    path = "/api/v1/oauth-apps/{id}",
    operation_id = "delete_oauth_app",
    tag = "oauth-apps",
    params(("id" = String, Path, description = "OAuth app id")),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
async fn delete(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state
        .services
        .oauth_apps
        .delete(&auth.organization_id, &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
