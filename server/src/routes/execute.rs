//! `POST /api/v1/integrations/connectors/{id}/execute` (bodies up to `max_execute_body`).
//!
//! The work is [`crate::services::Executions::execute`]; the connector's row comes from
//! [`crate::services::Connectors::get_cached`] (reused for
//! `connector_cache_ms`, one second by default), so that a warm execute asks the database only
//! for the bearer token only when its verified-token cache cannot be used (`crate::auth`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use api_types::{ExecuteRequest, ExecuteResponse};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::services::idempotency::{Answer, REPLAYED_HEADER};
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
    // Boxed: the execute future (service, runtime, connector, HTTP client) is several KB, and
    // each middleware layer and actix's dispatcher would otherwise move it by value.
    let answer = Box::pin(
        state
            .services
            .executions
            .execute(&auth.organization_id, &path, body.0),
    )
    .await?;
    Ok(match answer {
        Answer::Fresh(response) => json(HttpResponse::Ok(), &response),
        Answer::Replayed { status, body } => {
            let mut res = HttpResponse::build(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
            res.insert_header((REPLAYED_HEADER, "true"));
            json(res, &body)
        }
    })
}

/// `builder.json(value)` into a buffer sized for a typical message up front: serde_json's own
/// starts at 128 bytes and grows (and copies) several times for every answer.
fn json(
    mut builder: actix_web::HttpResponseBuilder,
    value: &impl serde::Serialize,
) -> HttpResponse {
    let mut body = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => builder
            .content_type(actix_web::http::header::ContentType::json())
            .body(body),
        Err(e) => ApiError::from(connector_core::ConnectorError::internal(format!(
            "the answer could not be serialized: {e}"
        )))
        .error_response(),
    }
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
