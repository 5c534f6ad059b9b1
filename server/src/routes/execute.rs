//! `POST /api/v1/integrations/connectors/{id}/execute` (bodies up to `max_execute_body`).
//!
//! The connector's row comes from [`crate::services::Connectors::get_cached`] (reused for
//! `connector_cache_ms`, one second by default), so that a warm execute asks the database only
//! for the bearer token (and nothing with `token_cache_ms` set).

use actix_web::{web, HttpResponse};
use api_types::{ExecuteRequest, ExecuteResponse};
use serde_json::Value;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::runtime::ExecuteCall;
use crate::store::ConnectorRow;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The limit comes from the app state's config (see `create_app`).
    cfg.route(
        "/api/v1/integrations/connectors/{id}/execute",
        web::post().to(execute),
    );
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
    let row = state
        .services
        .connectors
        .get_cached(&auth.organization_id, &path)
        .await?;
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

/// Runs the call and renders the 200 body (MCP's calls render through it too).
pub(crate) async fn run(
    state: web::Data<AppState>,
    row: ConnectorRow,
    req: ExecuteRequest,
) -> Result<serde_json::Value, connector_core::ConnectorError> {
    let (entity, action) = (req.entity.clone(), req.action.clone());
    let output = state
        .services
        .connectors
        .execute(
            &row,
            ExecuteCall {
                entity: req.entity,
                action: req.action,
                params: req.params,
                idempotency_key: req.idempotency_key,
            },
        )
        .await?;
    let mut meta = output.metadata;
    meta.insert("connector_id".into(), Value::from(row.id));
    meta.insert("connector_type".into(), Value::from(row.connector_type));
    meta.insert("entity".into(), Value::from(entity));
    meta.insert("action".into(), Value::from(action));
    let response = ExecuteResponse {
        result: output.result,
        connector_metadata: Value::Object(meta),
    };
    Ok(serde_json::to_value(response).expect("an execute response serializes"))
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
