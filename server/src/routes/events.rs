//! A connector's events: the feed (long-polling), the webhook deliveries (dead letters) and
//! redelivery. The work is [`crate::services::events`]'s.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use api_types::events::{DeliveryList, EventFeed, RedeliverRequest, Redelivered};
use serde::Deserialize;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::services::events::{MAX_FEED, MAX_WAIT};
use crate::AppState;

const BASE: &str = "/api/v1/integrations/connectors/{id}/events";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(BASE, web::get().to(feed))
        .route(&format!("{BASE}/deliveries"), web::get().to(deliveries))
        .route(&format!("{BASE}/redeliver"), web::post().to(redeliver));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// `next_cursor` of the previous answer; absent or 0: from the first event.
    #[param(pattern = "^[0-9]{0,18}$")]
    after: Option<String>,
    /// Only events of these types, comma-separated (e.g. `message.received,message.sent`).
    types: Option<String>,
    /// Most events in the answer (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// Seconds to wait for an event when there is none after the cursor (long-polling; at
    /// most 30, default 0).
    #[param(minimum = 0, maximum = 30)]
    wait: Option<u64>,
}

/// The connector's events after a cursor, oldest first: mailbox changes
/// (`message.received`, `message.sent`, `message.updated`, `message.deleted`) and status
/// changes, each with its per-connector `sequence`. With `wait` the request is held until an
/// event comes or the wait ends (then `data` is empty and `next_cursor` unchanged).
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/events",
    operation_id = "list_connector_events",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id"), FeedQuery),
    responses(
        (status = 200, description = "Events after the cursor", body = EventFeed),
        (status = 400, description = "`invalid_params`: a bad cursor", body = crate::error::ErrorBody),
        crate::openapi_responses::ConnectorNotFound,
    )
)]
async fn feed(
    auth: Auth,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    if q.limit.is_some_and(|l| !(1..=MAX_FEED).contains(&l)) {
        return Err(ApiError::invalid(format!(
            "`limit` must be between 1 and {MAX_FEED}"
        )));
    }
    if q.wait.is_some_and(|w| w > MAX_WAIT.as_secs()) {
        return Err(ApiError::invalid(format!(
            "`wait` must be at most {} (seconds)",
            MAX_WAIT.as_secs()
        )));
    }
    let types: Vec<String> = q
        .types
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let events = &state.services.events;
    let id = path.into_inner();
    let feed = events
        .feed(
            &auth.organization_id,
            &id,
            q.after.as_deref(),
            &types,
            q.limit,
            Duration::from_secs(0),
        )
        .await?;
    if feed.data.is_empty() {
        // Unknown connectors are a 404; a deleted one keeps its events readable.
        state
            .services
            .connectors
            .get(&auth.organization_id, &id)
            .await?;
    }
    let feed = match q.wait {
        Some(w) if w > 0 && feed.data.is_empty() => {
            events
                .feed(
                    &auth.organization_id,
                    &id,
                    q.after.as_deref(),
                    &types,
                    q.limit,
                    Duration::from_secs(w),
                )
                .await?
        }
        _ => feed,
    };
    Ok(HttpResponse::Ok().json(feed))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// `dead` (default), `pending`, `delivered` or `none`.
    #[param(pattern = "^(pending|delivered|dead|none)$")]
    state: Option<String>,
}

/// Webhook deliveries of the connector's events in one state, oldest first: by default the
/// dead ones (retries exhausted), which `POST .../events/redeliver` sends again.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/events/deliveries",
    operation_id = "list_event_deliveries",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id"), DeliveriesQuery),
    responses(
        (status = 200, description = "The deliveries", body = DeliveryList),
        (status = 400, description = "`invalid_params`: an unknown state", body = crate::error::ErrorBody),
        crate::openapi_responses::ConnectorNotFound,
    )
)]
async fn deliveries(
    auth: Auth,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> ApiResult<HttpResponse> {
    let list = state
        .services
        .events
        .deliveries(&auth.organization_id, &path, query.state.as_deref())
        .await?;
    if list.data.is_empty() {
        // Unknown connectors are a 404, as on the feed; a deleted one keeps its deliveries.
        state
            .services
            .connectors
            .get(&auth.organization_id, &path)
            .await?;
    }
    Ok(HttpResponse::Ok().json(list))
}

/// Sends dead events again (all of the connector's, or those named), in their order, before
/// the connector's later events.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/{id}/events/redeliver",
    operation_id = "redeliver_events",
    tag = "connectors",
    params(("id" = String, Path, description = "Connector id")),
    request_body = RedeliverRequest,
    responses(
        (status = 200, description = "How many events went back in the queue", body = Redelivered),
    )
)]
async fn redeliver(
    auth: Auth,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<RedeliverRequest>,
) -> ApiResult<HttpResponse> {
    let requeued = state
        .services
        .events
        .redeliver(&auth.organization_id, &path, body.0.event_ids.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(Redelivered { requeued }))
}
