//! `/healthz` (process up) and `/readyz` (database reachable). No auth.

use actix_web::{web, HttpResponse};
use api_types::HealthStatus;

use crate::error::ApiResult;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "The process is up", body = HealthStatus))
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus {
        status: "ok".into(),
    })
}

/// The database is reachable.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answered", body = HealthStatus),
        (status = 500, description = "`internal`: the database did not answer", body = crate::error::ErrorBody),
    )
)]
async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state.services.ready().await?;
    Ok(HttpResponse::Ok().json(HealthStatus {
        status: "ready".into(),
    }))
}
