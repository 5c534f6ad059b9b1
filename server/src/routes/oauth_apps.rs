//! Bring-your-own OAuth apps: `/api/v1/oauth-apps` (create, list, get, update, delete).
//! Secrets are encrypted by the vault and never returned. A new secret reaches every
//! connector made with the app at once.

use actix_web::{web, HttpResponse};
use api_types::{CreateOAuthAppRequest, OAuthAppList, OAuthAppView, UpdateOAuthAppRequest};
use connector_core::Secret;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::store::AppRow;
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

fn view(a: &AppRow) -> OAuthAppView {
    OAuthAppView {
        id: a.id.clone(),
        provider: a.provider.clone(),
        client_id: a.client_id.clone(),
        client_secret_set: a.client_secret.is_some(),
        tenant: a.tenant.clone(),
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("no OAuth app with this id in your organization")
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
    let r = body.0;
    let org = &auth.organization_id;
    if state.registry.get(&r.provider).is_none() {
        return Err(ApiError::invalid(
            "`provider` must be a connector type (gmail, outlook)",
        ));
    }
    if r.client_id.trim().is_empty() {
        return Err(ApiError::invalid("`client_id` must not be empty"));
    }
    let secret = match &r.client_secret {
        Some(s) => Some(state.vault.encrypt_secret(org, s).await?.0),
        None => None,
    };
    let app = state
        .store
        .insert_oauth_app(
            org,
            &r.provider,
            &r.client_id,
            secret.as_deref(),
            r.tenant.as_deref(),
        )
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
    let apps = state.store.oauth_apps(&auth.organization_id).await?;
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
        .store
        .oauth_app(&auth.organization_id, &id)
        .await?
        .ok_or_else(not_found)?;
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
    let org = &auth.organization_id;
    let mut app = state
        .store
        .oauth_app(org, &id)
        .await?
        .ok_or_else(not_found)?;
    let r = body.0;
    if let Some(c) = r.client_id {
        app.client_id = c;
    }
    if let Some(s) = &r.client_secret {
        app.client_secret = Some(state.vault.encrypt_secret(org, s).await?.0);
    }
    if r.tenant.is_some() {
        app.tenant = r.tenant;
    }
    state.store.update_oauth_app(&app).await?;
    propagate(&state, org, &app, r.client_secret.as_ref()).await?;
    let app = state
        .store
        .oauth_app(org, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(view(&app)))
}

/// Rewrites the client id/secret stored with each connector made by this app.
async fn propagate(
    state: &AppState,
    org: &str,
    app: &AppRow,
    secret: Option<&Secret>,
) -> ApiResult<()> {
    for cid in state.store.connectors_of_app(org, &app.id).await? {
        state
            .services
            .connectors
            .edit_credentials(org, &cid, |creds| {
                creds
                    .fields
                    .insert("client_id".into(), Secret::new(app.client_id.clone()));
                if let Some(s) = secret {
                    creds.fields.insert("client_secret".into(), s.clone());
                }
            })
            .await?;
    }
    Ok(())
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
    if !state
        .store
        .delete_oauth_app(&auth.organization_id, &id)
        .await?
    {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}
