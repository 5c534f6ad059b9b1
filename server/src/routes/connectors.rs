//! Connector CRUD, status and tools under `/api/v1/integrations/connectors`.

use actix_web::{web, HttpResponse};
use chrono::{TimeZone, Utc};
use connector_core::tools::{self, ToolFormat};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::credentials::validate;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::registry::ConnectorType;
use crate::store::{ConnectorFilter, ConnectorRow, ConnectorUpdate, NewConnector};
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

/// `replication_config`: connector-level defaults for actions.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    /// Default of `include_spam_trash` for list actions (an explicit param wins).
    #[serde(default)]
    pub include_spam_and_trash: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    customer_name: String,
    #[serde(default)]
    connector_type: Option<String>,
    #[serde(default)]
    definition_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    credentials: Value,
    #[serde(default)]
    replication_config: Option<ReplicationConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    replication_config: Option<ReplicationConfig>,
    #[serde(default)]
    credentials: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    customer_name: Option<String>,
    connector_type: Option<String>,
    definition_id: Option<String>,
    /// Page size (1-1000, default 100).
    limit: Option<i64>,
    offset: Option<i64>,
}

fn ts(secs: i64) -> Value {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| json!(t.to_rfc3339()))
        .unwrap_or(Value::Null)
}

/// What a response shows of a connector: never a credential.
pub fn view(row: &ConnectorRow) -> Value {
    json!({
        "id": row.id,
        "organization_id": row.organization_id,
        "customer_name": row.customer_name,
        "connector_type": row.connector_type,
        "definition_id": row.definition_id,
        "name": row.name,
        "replication_config": row.replication_config,
        "status": row.status,
        "status_reason": row.status_reason,
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    })
}

fn kind_for<'a>(
    state: &'a AppState,
    connector_type: Option<&str>,
    definition_id: Option<&str>,
) -> ApiResult<&'a ConnectorType> {
    let kind = match (connector_type, definition_id) {
        (Some(t), _) => state.registry.get(t),
        (None, Some(d)) => state.registry.by_definition(d),
        (None, None) => {
            return Err(ApiError::from(
                connector_core::ConnectorError::invalid_params(
                    "give `connector_type` (e.g. \"gmail\") or `definition_id`",
                )
                .with_details(json!({"path": "connector_type"})),
            ))
        }
    };
    let kind = kind.ok_or_else(|| {
        let names: Vec<&str> = state
            .registry
            .all()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        ApiError::from(
            connector_core::ConnectorError::invalid_params(format!(
                "unknown connector type; this server has {names:?}"
            ))
            .with_details(json!({"path": "connector_type"})),
        )
    })?;
    if let (Some(d), Some(_)) = (definition_id, connector_type) {
        if d != kind.definition_id {
            return Err(ApiError::invalid(
                "`definition_id` does not belong to `connector_type`",
            ));
        }
    }
    Ok(kind)
}

async fn create(
    auth: Auth,
    state: web::Data<AppState>,
    body: ApiJson<CreateRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    if req.customer_name.trim().is_empty() {
        return Err(ApiError::invalid("`customer_name` must not be empty"));
    }
    let kind = kind_for(
        &state,
        req.connector_type.as_deref(),
        req.definition_id.as_deref(),
    )?;
    let creds = validate(&kind.spec.auth, &req.credentials, kind.refresh_rule())?;
    let (blob, key_id) = state
        .vault
        .encrypt(&auth.organization_id, &creds.to_json())
        .await?;
    let rc = serde_json::to_value(req.replication_config.unwrap_or_default()).expect("serializes");
    let row = state
        .store
        .insert_connector(NewConnector {
            organization_id: auth.organization_id.clone(),
            name: req
                .name
                .unwrap_or_else(|| format!("{} ({})", kind.name, req.customer_name)),
            customer_name: req.customer_name,
            connector_type: kind.name.clone(),
            definition_id: kind.definition_id.clone(),
            replication_config: rc,
            credentials: blob,
            credentials_key_id: key_id,
            base_url: None,
            token_url: None,
        })
        .await?;
    tracing::info!(connector_id = %row.id, connector_type = %row.connector_type, "connector created");
    Ok(HttpResponse::Created().json(view(&row)))
}

async fn list(
    auth: Auth,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("`limit` must be between 1 and 1000"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("`offset` must not be negative"));
    }
    let rows = state
        .store
        .list_connectors(
            &auth.organization_id,
            &ConnectorFilter {
                customer_name: q.customer_name,
                connector_type: q.connector_type,
                definition_id: q.definition_id,
                limit,
                offset,
            },
        )
        .await?;
    let data: Vec<Value> = rows.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

async fn load(state: &AppState, auth: &Auth, id: &str) -> ApiResult<ConnectorRow> {
    state
        .store
        .get_connector(&auth.organization_id, id)
        .await?
        .ok_or_else(ApiError::connector_not_found)
}

async fn get(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(view(&load(&state, &auth, &id).await?)))
}

async fn patch(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PatchRequest>,
) -> ApiResult<HttpResponse> {
    let row = load(&state, &auth, &id).await?;
    let before = row.clone();
    let req = body.0;
    let mut update = ConnectorUpdate {
        name: req.name,
        replication_config: req
            .replication_config
            .map(|rc| serde_json::to_value(rc).expect("serializes")),
        ..Default::default()
    };
    if let Some(credentials) = req.credentials {
        let kind = kind_for(&state, Some(&row.connector_type), None)?;
        let creds = validate(&kind.spec.auth, &credentials, kind.refresh_rule())?;
        update.credentials = Some(
            state
                .vault
                .encrypt(&auth.organization_id, &creds.to_json())
                .await?,
        );
    }
    let row = state
        .store
        .update_connector(&auth.organization_id, &id, update)
        .await?
        .ok_or_else(ApiError::connector_not_found)?;
    state.runtime.forget(&row.id).await;
    crate::routes::execute::forget_connector(&row.id);
    state.runtime.lifecycle().note_status(&before, &row);
    Ok(HttpResponse::Ok().json(view(&row)))
}

async fn delete(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let before = load(&state, &auth, &id).await?;
    crate::oauth::revoke::revoke_connector(&state, &auth.organization_id, &id).await;
    if !state
        .store
        .delete_connector(&auth.organization_id, &id)
        .await?
    {
        return Err(ApiError::connector_not_found());
    }
    state.runtime.forget(&id).await;
    crate::routes::execute::forget_connector(&id);
    state.runtime.lifecycle().note_deleted(&before);
    Ok(HttpResponse::NoContent().finish())
}

async fn status(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let row = load(&state, &auth, &id).await?;
    let scopes: Vec<&str> = row
        .scopes
        .as_deref()
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(json!({
        "connector_id": row.id,
        "status": row.status,
        "reason": row.status_reason,
        "scopes": scopes,
        "last_refresh_at": row.last_refresh_at.map(ts),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsQuery {
    format: Option<String>,
}

async fn tools_for(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ToolsQuery>,
) -> ApiResult<HttpResponse> {
    let row = load(&state, &auth, &id).await?;
    let kind = kind_for(&state, Some(&row.connector_type), None)?;
    let name = query.format.as_deref().unwrap_or("openai");
    let format = ToolFormat::parse(name).ok_or_else(|| {
        ApiError::from(
            connector_core::ConnectorError::invalid_params(
                "`format` must be openai, anthropic or mcp",
            )
            .with_details(json!({"path": "format"})),
        )
    })?;
    let tools = tools::action_tools(&kind.spec, format);
    Ok(HttpResponse::Ok().json(json!({
        "connector_id": row.id,
        "format": format.as_str(),
        "data": tools,
    })))
}
