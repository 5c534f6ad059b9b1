//! Connector CRUD, status and tools under `/api/v1/integrations/connectors`.

use actix_web::{web, HttpResponse};
use api_types::{
    ConnectorList, ConnectorStatus, ConnectorStatusView, ConnectorTools, ConnectorView,
    CreateConnectorRequest, UpdateConnectorRequest,
};
use chrono::{TimeZone, Utc};
use serde::Deserialize;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::services::connectors::{ConnectorPatch, CreateFromCredentials};
use crate::store::{ConnectorFilter, ConnectorRow, STATUS_NEEDS_REAUTH};
use crate::AppState;

const BASE: &str = "/api/v1/integrations/connectors";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(BASE)
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource(format!("{BASE}/{{id}}"))
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .route(&format!("{BASE}/{{id}}/status"), web::get().to(status))
    .route(&format!("{BASE}/{{id}}/tools"), web::get().to(tools_for));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    customer_name: Option<String>,
    connector_type: Option<String>,
    definition_id: Option<String>,
    /// Page size (1-1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Connectors to skip (default 0).
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// RFC 3339.
fn ts(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// What a response shows of a connector: never a credential.
pub fn view(row: &ConnectorRow) -> ConnectorView {
    ConnectorView {
        id: row.id.clone(),
        organization_id: row.organization_id.clone(),
        customer_name: row.customer_name.clone(),
        connector_type: row.connector_type.clone(),
        definition_id: row.definition_id.clone(),
        name: row.name.clone(),
        replication_config: serde_json::from_value(row.replication_config.clone())
            .unwrap_or_default(),
        status: status_of(&row.status),
        status_reason: row.status_reason.clone(),
        created_at: ts(row.created_at),
        updated_at: ts(row.updated_at),
    }
}

fn status_of(stored: &str) -> ConnectorStatus {
    if stored == STATUS_NEEDS_REAUTH {
        ConnectorStatus::NeedsReauth
    } else {
        ConnectorStatus::Active
    }
}

/// Creates a connector from credentials (validated against the type's credential schema).
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors",
    operation_id = "create_connector",
    tag = "connectors",
    request_body = CreateConnectorRequest,
    responses(
        (status = 201, description = "The connector", body = ConnectorView),
    )
)]
async fn create(
    auth: Auth,
    state: web::Data<AppState>,
    body: ApiJson<CreateConnectorRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let row = state
        .services
        .connectors
        .create_from_credentials(
            &auth.organization_id,
            CreateFromCredentials {
                customer_name: req.customer_name,
                connector_type: req.connector_type,
                definition_id: req.definition_id,
                name: req.name,
                credentials: req.credentials,
                replication_config: Some(
                    serde_json::to_value(req.replication_config.unwrap_or_default())
                        .expect("serializes"),
                ),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(view(&row)))
}

/// Lists the organization's connectors, optionally filtered.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors",
    operation_id = "list_connectors",
    tag = "connectors",
    params(ListQuery),
    responses(
        (status = 200, description = "The connectors", body = ConnectorList),
        (status = 400, description = "`invalid_params`: a bad query parameter", body = crate::error::ErrorBody),
    )
)]
async fn list(
    auth: Auth,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let rows = state
        .services
        .connectors
        .list(
            &auth.organization_id,
            &ConnectorFilter {
                customer_name: q.customer_name,
                connector_type: q.connector_type,
                definition_id: q.definition_id,
                limit: q.limit.unwrap_or(100),
                offset: q.offset.unwrap_or(0),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(ConnectorList {
        data: rows.iter().map(view).collect(),
    }))
}

/// Reads a connector (never its credentials).
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}",
    operation_id = "get_connector",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, description = "The connector", body = ConnectorView),
    )
)]
async fn get(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let row = state
        .services
        .connectors
        .get(&auth.organization_id, &id)
        .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Renames a connector, or replaces its replication config or credentials.
#[utoipa::path(
    patch,
    path = "/api/v1/integrations/connectors/{id}",
    operation_id = "update_connector",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id")),
    request_body = UpdateConnectorRequest,
    responses(
        (status = 200, description = "The updated connector", body = ConnectorView),
    )
)]
async fn patch(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<UpdateConnectorRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let row = state
        .services
        .connectors
        .update(
            &auth.organization_id,
            &id,
            ConnectorPatch {
                name: req.name,
                replication_config: req
                    .replication_config
                    .map(|rc| serde_json::to_value(rc).expect("serializes")),
                credentials: req.credentials,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Deletes a connector (OAuth tokens are revoked at the provider first, best effort).
#[utoipa::path(
    delete,
    path = "/api/v1/integrations/connectors/{id}",
    operation_id = "delete_connector",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id")),
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
        .connectors
        .delete(&auth.organization_id, &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Whether the connector works: `active`, or `needs_reauth` with the reason.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/status",
    operation_id = "get_connector_status",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, description = "The status", body = ConnectorStatusView),
    )
)]
async fn status(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let status = state
        .services
        .connectors
        .status(&auth.organization_id, &id)
        .await?;
    let row = status.row;
    let policy = state
        .services
        .guardrails
        .policy(&auth.organization_id, Some(&row.id))
        .await?;
    Ok(HttpResponse::Ok().json(ConnectorStatusView {
        policy,
        status: status_of(&row.status),
        connector_id: row.id,
        reason: row.status_reason,
        scopes: status.scopes,
        last_refresh_at: row.last_refresh_at.map(ts),
        replication: status.replication,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ToolsQuery {
    /// `openai` (default), `anthropic` or `mcp`.
    #[param(pattern = "^(openai|anthropic|mcp)$")]
    format: Option<String>,
}

/// The connector's actions as tool definitions for an LLM.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/tools",
    operation_id = "get_connector_tools",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id"), ToolsQuery),
    responses(
        (status = 200, description = "The tools", body = ConnectorTools),
        (status = 400, description = "`invalid_params`: unknown `format`", body = crate::error::ErrorBody),
    )
)]
async fn tools_for(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ToolsQuery>,
) -> ApiResult<HttpResponse> {
    let tools = state
        .services
        .connectors
        .tools(&auth.organization_id, &id, query.format.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(tools))
}
