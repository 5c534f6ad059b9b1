//! Prometheus metrics at `GET /metrics` (text format, the `prometheus` crate):
//!
//! - `connectors_http_requests_total{method,route,status}` and
//!   `connectors_http_request_duration_seconds{method,route}`: every request by route pattern
//!   (`/api/v1/integrations/connectors/{id}/execute`, never the concrete id).
//! - `connectors_provider_calls_total{connector_type,outcome}` and
//!   `connectors_provider_call_duration_seconds{connector_type,outcome}`: execute calls that
//!   ran a connector action against the provider; `outcome` is `ok` or the error code.
//! - `connectors_token_refreshes_total{outcome}`: access token refreshes (`ok`, `invalid_grant`).
//! - `connectors_connectors{connector_type,status}`: stored connectors by status (read from the
//!   database at scrape time, so every replica reports the same numbers).
//!
//! `/metrics` is off unless a metrics token is configured (`--metrics-token`,
//! `CONNECTORS_METRICS_TOKEN`, or `metrics_token` in the TOML file); scrapers send it as
//! `Authorization: Bearer <token>`. API application tokens do not open it: the numbers span
//! every organization.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub provider_calls: IntCounterVec,
    pub provider_duration: HistogramVec,
    pub token_refreshes: IntCounterVec,
    connectors: IntGaugeVec,
}

/// The process-wide metrics (created on first use).
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new().expect("metric definitions are valid"))
}

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "connectors_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "connectors_http_request_duration_seconds",
                "HTTP request latency by route",
            ),
            &["method", "route"],
        )?;
        let provider_calls = IntCounterVec::new(
            Opts::new(
                "connectors_provider_calls_total",
                "Connector actions run against the provider, by connector type and outcome",
            ),
            &["connector_type", "outcome"],
        )?;
        let provider_duration = HistogramVec::new(
            HistogramOpts::new(
                "connectors_provider_call_duration_seconds",
                "Latency of connector actions against the provider",
            ),
            &["connector_type", "outcome"],
        )?;
        let token_refreshes = IntCounterVec::new(
            Opts::new(
                "connectors_token_refreshes_total",
                "Access token refreshes by outcome",
            ),
            &["outcome"],
        )?;
        let connectors = IntGaugeVec::new(
            Opts::new(
                "connectors_connectors",
                "Stored connectors by type and status",
            ),
            &["connector_type", "status"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(provider_calls.clone()))?;
        registry.register(Box::new(provider_duration.clone()))?;
        registry.register(Box::new(token_refreshes.clone()))?;
        registry.register(Box::new(connectors.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            provider_calls,
            provider_duration,
            token_refreshes,
            connectors,
        })
    }

    /// Records one connector action (`outcome`: `ok` or the error code).
    pub fn provider_call(&self, connector_type: &str, outcome: &str, started: Instant) {
        self.provider_calls
            .with_label_values(&[connector_type, outcome])
            .inc();
        self.provider_duration
            .with_label_values(&[connector_type, outcome])
            .observe(started.elapsed().as_secs_f64());
    }

    /// Records one token refresh.
    pub fn token_refresh(&self, outcome: &str) {
        self.token_refreshes.with_label_values(&[outcome]).inc();
    }
}

/// Middleware: counts and times every request by its route pattern.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let m = global();
    m.http_requests
        .with_label_values(&[&method, &route, res.status().as_str()])
        .inc();
    m.http_duration
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    Ok(res)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape));
}

/// Prometheus metrics (text format). Off unless a metrics token is configured; send it as
/// `Authorization: Bearer <token>` (API application tokens do not open it).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 401, description = "`unauthenticated`: missing or wrong metrics token", body = crate::error::ErrorBody),
        (status = 404, description = "`not_found`: metrics are off (no metrics token configured)", body = crate::error::ErrorBody),
    )
)]
async fn scrape(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let Some(expected) = &state.config.metrics_token else {
        return Err(ApiError::not_found(
            "metrics are off: configure a metrics token (CONNECTORS_METRICS_TOKEN)",
        ));
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compare digests so the comparison time does not depend on the token's bytes.
    if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.expose().as_bytes()) {
        return Err(ApiError::unauthenticated(
            "send the metrics token as `Authorization: Bearer <token>`",
        ));
    }
    let m = global();
    let counts = state.store.connector_counts().await?;
    m.connectors.reset();
    for (kind, status, n) in counts {
        m.connectors.with_label_values(&[&kind, &status]).set(n);
    }
    let text = TextEncoder::new()
        .encode_to_string(&m.registry.gather())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
