//! `POST /api/v1/integrations/connectors/{id}/execute` (bodies up to `max_execute_body`).
//!
//! The connector's row is reused for [`crate::auth::CONNECTOR_CACHE_TTL`] (one second;
//! `connector_cache_ms`, 0 turns it off), so that a warm execute asks the database only for
//! the bearer token (and nothing with `token_cache_ms` set).
//! Every change this process makes to a connector (PATCH, DELETE, re-authorization, a refresh
//! that ends in `needs_reauth`) calls [`forget_connector`] and applies at once; a change made
//! by another replica is seen within that lifetime. The runtime re-reads the row itself before
//! it marks a connector `needs_reauth`, so a stale cached row never causes that.

use std::sync::LazyLock;

use actix_web::{web, HttpResponse};
use connector_core::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{connector_cache_ttl, Auth, HotCache};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::runtime::ExecuteCall;
use crate::store::ConnectorRow;
use crate::AppState;

/// Connector rows by connector id (the organization is checked on every hit).
static ROWS: LazyLock<HotCache<ConnectorRow>> = LazyLock::new(HotCache::new);

/// Drops a connector's cached row: call after every change to it made by this process.
pub fn forget_connector(connector_id: &str) {
    ROWS.remove(connector_id);
}

/// The organization's connector: from the cache when read less than the cache lifetime ago.
async fn connector_row(
    state: &AppState,
    organization_id: &str,
    id: &str,
) -> Result<Option<ConnectorRow>, ApiError> {
    let ttl = connector_cache_ttl();
    if ttl.is_zero() {
        return Ok(state.store.get_connector(organization_id, id).await?);
    }
    if let Some(row) = ROWS.get(id, ttl) {
        if row.organization_id == organization_id {
            return Ok(Some(row));
        }
    }
    let generation = ROWS.generation();
    let row = state.store.get_connector(organization_id, id).await?;
    if let Some(r) = &row {
        ROWS.put(id.to_string(), r.clone(), generation, ttl);
    }
    Ok(row)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The limit comes from the app state's config (see `create_app`).
    cfg.route(
        "/api/v1/integrations/connectors/{id}/execute",
        web::post().to(execute),
    );
}

/// One action of the connector's spec.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    /// An entity of the spec, e.g. `messages`.
    entity: String,
    /// An action of the entity, e.g. `list`.
    action: String,
    /// The action's parameters (validated against its JSON Schema).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    params: Value,
    /// Replays the first outcome for a repeated key (same entity, action and params).
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// The action's result and metadata.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteResponse {
    /// The action's result (shape given by the action's result schema).
    pub result: Value,
    /// `connector_id`, `connector_type`, `entity`, `action`, plus action metadata (pagination
    /// cursors and the like).
    #[schema(value_type = Object)]
    pub connector_metadata: Value,
}

fn empty_object() -> Value {
    json!({})
}

/// Runs one action against the provider. Any error code of the table can come back; the
/// action-specific ones are documented per status.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/{id}/execute",
    operation_id = "execute_action",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id")),
    request_body = ExecuteRequest,
    responses(
        (status = 200, description = "The action ran", body = ExecuteResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier call with the same `idempotency_key`"))),
    )
)]
async fn execute(
    auth: Auth,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ExecuteBody,
) -> ApiResult<HttpResponse> {
    let row = connector_row(&state, &auth.organization_id, &path)
        .await?
        .ok_or_else(ApiError::connector_not_found)?;
    let req = body.0;
    let Some(key) = req.idempotency_key.clone() else {
        return Ok(HttpResponse::Ok().json(run(state, row, req).await?));
    };
    let (org, id) = (auth.organization_id.clone(), row.id.clone());
    let (entity, action, params) = (req.entity.clone(), req.action.clone(), req.params.clone());
    let fingerprint = crate::idempotency::Fingerprint {
        entity: &entity,
        action: &action,
        params: &params,
    };
    crate::idempotency::execute(
        state.clone(),
        &org,
        &id,
        &key,
        fingerprint,
        run(state, row, req),
    )
    .await
}

/// Runs the call and renders the 200 body.
async fn run(
    state: web::Data<AppState>,
    row: ConnectorRow,
    req: ExecuteRequest,
) -> Result<serde_json::Value, connector_core::ConnectorError> {
    let (entity, action) = (req.entity.clone(), req.action.clone());
    let started = std::time::Instant::now();
    let output = state
        .runtime
        .execute(
            &row,
            ExecuteCall {
                entity: req.entity,
                action: req.action,
                params: req.params,
                idempotency_key: req.idempotency_key,
            },
        )
        .await;
    if output
        .as_ref()
        .is_err_and(|e| matches!(e.code, ErrorCode::NeedsReauth | ErrorCode::Unauthenticated))
    {
        // The runtime may have re-read or re-marked the row (needs_reauth).
        forget_connector(&row.id);
    }
    let outcome = output.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok");
    crate::metrics::global().provider_call(&row.connector_type, outcome, started);
    let output = output?;
    let mut meta = output.metadata;
    meta.insert("connector_id".into(), json!(row.id));
    meta.insert("connector_type".into(), json!(row.connector_type));
    meta.insert("entity".into(), json!(entity));
    meta.insert("action".into(), json!(action));
    Ok(json!({"result": output.result, "connector_metadata": meta}))
}

/// The execute body with the execute limit.
struct ExecuteBody(ExecuteRequest);

impl actix_web::FromRequest for ExecuteBody {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.max_execute_body)
            .unwrap_or(crate::config::DEFAULT_MAX_EXECUTE_BODY);
        let inner = ApiJson::<ExecuteRequest>::from_request_with_limit(req, payload, limit);
        Box::pin(async move { inner.await.map(|j| ExecuteBody(j.0)) })
    }
}
