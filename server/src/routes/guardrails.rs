//! Guardrails (docs/guardrails.md): send policies of a connector and of the organization, and
//! approvals: listed, waited for, decided through the API or through a single-use signed link
//! (`/approvals/decide`, outside `/api/`: the link is the credential). The work is
//! [`crate::services::guardrails`]'s.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use api_types::guardrails::{
    ApprovalLink, ApprovalList, ApprovalView, LinkRequest, PolicyView, SetPolicyRequest,
};
use serde::Deserialize;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::AppState;

pub mod page;

const CONNECTOR_POLICY: &str = "/api/v1/integrations/connectors/{id}/policy";
const ORG_POLICY: &str = "/api/v1/organization/policy";
const APPROVALS: &str = "/api/v1/approvals";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(CONNECTOR_POLICY)
            .route(web::get().to(get_connector_policy))
            .route(web::put().to(put_connector_policy)),
    )
    .service(
        web::resource(ORG_POLICY)
            .route(web::get().to(get_org_policy))
            .route(web::put().to(put_org_policy)),
    )
    .route(APPROVALS, web::get().to(list))
    .route(&format!("{APPROVALS}/{{id}}"), web::get().to(get))
    .route(
        &format!("{APPROVALS}/{{id}}/approve"),
        web::post().to(approve),
    )
    .route(
        &format!("{APPROVALS}/{{id}}/reject"),
        web::post().to(reject),
    )
    .route(&format!("{APPROVALS}/{{id}}/links"), web::post().to(link))
    .service(
        web::resource(crate::services::guardrails::LINK_PATH)
            .route(web::get().to(page::show))
            .route(web::post().to(page::decide)),
    );
}

fn by(auth: &Auth) -> String {
    format!("app:{}", auth.application_id)
}

/// The send policy in force for the connector: its own, else the organization's default.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/policy",
    operation_id = "get_connector_policy",
    tag = "guardrails",
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, description = "The policy in force", body = PolicyView),
        crate::openapi_responses::ConnectorNotFound,
    )
)]
async fn get_connector_policy(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let s = &state.services;
    s.connectors.get(&auth.organization_id, &id).await?;
    let view = s
        .guardrails
        .policy(&auth.organization_id, Some(&id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Sets the connector's own policy (a new version), or with `"policy": null` removes it (the
/// organization's default applies again). It holds from the next call on, on every replica.
#[utoipa::path(
    put,
    path = "/api/v1/integrations/connectors/{id}/policy",
    operation_id = "put_connector_policy",
    tag = "guardrails",
    params(("id" = String, Path, description = "Connector id")),
    request_body = SetPolicyRequest,
    responses(
        (status = 200, description = "The policy in force now", body = PolicyView),
        crate::openapi_responses::InvalidField,
        crate::openapi_responses::ConnectorNotFound,
    )
)]
async fn put_connector_policy(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<SetPolicyRequest>,
) -> ApiResult<HttpResponse> {
    let s = &state.services;
    s.connectors.get(&auth.organization_id, &id).await?;
    let view = s
        .guardrails
        .set_policy(&auth.organization_id, Some(&id), body.0.policy, &by(&auth))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The organization's default policy (for connectors without their own).
#[utoipa::path(
    get,
    path = "/api/v1/organization/policy",
    operation_id = "get_organization_policy",
    tag = "guardrails",
    responses((status = 200, description = "The default policy", body = PolicyView))
)]
async fn get_org_policy(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let view = state
        .services
        .guardrails
        .policy(&auth.organization_id, None)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Sets (or with `"policy": null` removes) the organization's default policy.
#[utoipa::path(
    put,
    path = "/api/v1/organization/policy",
    operation_id = "put_organization_policy",
    tag = "guardrails",
    request_body = SetPolicyRequest,
    responses(
        (status = 200, description = "The default policy now", body = PolicyView),
        crate::openapi_responses::InvalidField,
    )
)]
async fn put_org_policy(
    auth: Auth,
    state: web::Data<AppState>,
    body: ApiJson<SetPolicyRequest>,
) -> ApiResult<HttpResponse> {
    let view = state
        .services
        .guardrails
        .set_policy(&auth.organization_id, None, body.0.policy, &by(&auth))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only approvals in this state.
    #[param(schema_with = approval_status)]
    status: Option<String>,
}

/// `pending`, `approved`, `rejected`, `expired` or `used` (core's list).
fn approval_status() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            connector_core::guard::ApprovalStatus::ALL.map(|s| s.as_str()),
        ))
        .build()
}

/// The organization's newest approvals (at most 100), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/approvals",
    operation_id = "list_approvals",
    tag = "guardrails",
    params(ListQuery),
    responses(
        (status = 200, description = "Approvals", body = ApprovalList),
        (status = 400, description = "`invalid_params`: an unknown status", body = crate::error::ErrorBody),
    )
)]
async fn list(
    auth: Auth,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let list = state
        .services
        .guardrails
        .approvals(&auth.organization_id, query.status.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct GetQuery {
    /// Seconds to wait while the approval is pending (long-polling; at most 30, default 0).
    wait_seconds: Option<u64>,
}

/// One approval with its exact preview; with `wait_seconds`, answers as soon as it is decided
/// or expires (or when the wait ends, still `pending`).
#[utoipa::path(
    get,
    path = "/api/v1/approvals/{id}",
    operation_id = "get_approval",
    tag = "guardrails",
    params(("id" = String, Path, description = "Approval id (`apr_...`)"), GetQuery),
    responses(
        (status = 200, description = "The approval", body = ApprovalView),
        (status = 400, description = "`invalid_params`: a bad query parameter", body = crate::error::ErrorBody),
        crate::openapi_responses::ApprovalNotFound,
    )
)]
async fn get(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<GetQuery>,
) -> ApiResult<HttpResponse> {
    let wait = query.wait_seconds.map(Duration::from_secs);
    let view = state
        .services
        .guardrails
        .approval(&auth.organization_id, &id, wait)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Approves a pending approval: the next send of exactly this message goes out, once.
#[utoipa::path(
    post,
    path = "/api/v1/approvals/{id}/approve",
    operation_id = "approve",
    tag = "guardrails",
    params(("id" = String, Path, description = "Approval id")),
    responses(
        (status = 200, description = "The decided approval", body = ApprovalView),
        crate::openapi_responses::ApprovalNotFound,
        crate::openapi_responses::ApprovalDecided,
    )
)]
async fn approve(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    decide(auth, state, id, true).await
}

/// Rejects a pending approval: sends of this message are refused.
#[utoipa::path(
    post,
    path = "/api/v1/approvals/{id}/reject",
    operation_id = "reject",
    tag = "guardrails",
    params(("id" = String, Path, description = "Approval id")),
    responses(
        (status = 200, description = "The decided approval", body = ApprovalView),
        crate::openapi_responses::ApprovalNotFound,
        crate::openapi_responses::ApprovalDecided,
    )
)]
async fn reject(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    decide(auth, state, id, false).await
}

async fn decide(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    approve: bool,
) -> ApiResult<HttpResponse> {
    let view = state
        .services
        .guardrails
        .decide(&auth.organization_id, &id, approve, &by(&auth))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A single-use signed link for a person without an API token: it shows the exact message
/// and lets them approve or reject it once, until it expires.
#[utoipa::path(
    post,
    path = "/api/v1/approvals/{id}/links",
    operation_id = "create_approval_link",
    tag = "guardrails",
    params(("id" = String, Path, description = "Approval id")),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "The link", body = ApprovalLink),
        crate::openapi_responses::ApprovalNotFound,
        (status = 409, description = "`conflict`: the approval is not pending", body = crate::error::ErrorBody),
    )
)]
async fn link(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
    body: ApiJson<LinkRequest>,
) -> ApiResult<HttpResponse> {
    let base = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let link = state
        .services
        .guardrails
        .link(&auth.organization_id, &id, body.0, &base)
        .await?;
    Ok(HttpResponse::Ok().json(link))
}
