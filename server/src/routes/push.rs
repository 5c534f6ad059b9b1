//! Push endpoints of the providers (outside `/api/`: the providers authenticate with their own
//! tokens, checked by [`crate::services::events::push`]).
//!
//! - `POST /push/gmail`: Google Cloud Pub/Sub push for Gmail's `users.watch`. 204 once the
//!   mailbox's poll is recorded as due; 401 for a token that does not verify (Pub/Sub retries,
//!   nothing is recorded); 404 when Gmail push is not configured.
//! - `POST /push/outlook` and `POST /push/outlook/lifecycle`: Microsoft Graph change
//!   notifications and lifecycle notifications. `?validationToken=` is echoed as text/plain
//!   (Graph's handshake); notifications answer 202 once the mailbox's poll is recorded, 401 when
//!   none carries the clientState of a subscription of this server.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::ApiResult;
use crate::extract::RawBody;
use crate::services::events::graph;
use crate::AppState;

pub const GMAIL: &str = "/push/gmail";
pub const OUTLOOK: &str = "/push/outlook";
pub const OUTLOOK_LIFECYCLE: &str = "/push/outlook/lifecycle";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(GMAIL, web::post().to(gmail))
        .route(OUTLOOK, web::post().to(outlook))
        .route(OUTLOOK_LIFECYCLE, web::post().to(outlook_lifecycle));
}

fn bearer(req: &HttpRequest) -> &str {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("")
}

/// Google Cloud Pub/Sub push for Gmail's `users.watch` (no API token: Pub/Sub's OIDC token in
/// `Authorization: Bearer`). 204 once the mailbox's poll is recorded; Pub/Sub redelivers
/// anything else.
#[utoipa::path(
    post,
    path = "/push/gmail",
    operation_id = "gmail_push",
    tag = "connectors",
    request_body = api_types::events::PubSubPush,
    responses(
        (status = 204, description = "Recorded: the mailbox is read from its cursor now"),
        (status = 400, description = "`invalid_params`: not a Pub/Sub push of a Gmail notification", body = crate::error::ErrorBody),
        (status = 401, description = "`unauthenticated`: the token's signature, issuer, audience, service account or expiry is wrong", body = crate::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over the server's `max_body` (docs/limits.md)", body = crate::error::ErrorBody),
        (status = 404, description = "`not_found`: Gmail push is not configured", body = crate::error::ErrorBody),
    )
)]
async fn gmail(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: RawBody,
) -> ApiResult<HttpResponse> {
    state
        .services
        .events
        .gmail_pushed(bearer(&req), &body.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Graph's handshake parameter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Validation {
    /// Sent by Graph when a subscription is created: answered as it is, `text/plain`.
    #[serde(rename = "validationToken")]
    #[param(rename = "validationToken", min_length = 1, max_length = 1024)]
    validation_token: Option<String>,
}

async fn graph_notification(
    state: &AppState,
    q: &Validation,
    body: &[u8],
    lifecycle: bool,
) -> ApiResult<HttpResponse> {
    if let Some(token) = &q.validation_token {
        // Graph's handshake carries no body; a body that comes anyway must still be what the
        // document says a body is (a notification collection), or the request is refused.
        if !body.is_empty() {
            graph::parse_notifications(body)?;
        }
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(graph::validation_answer(token)?));
    }
    state
        .services
        .events
        .outlook_pushed(body, lifecycle)
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Microsoft Graph change notifications of Outlook connectors' subscriptions (no API token:
/// each notification's `clientState` is checked). With `validationToken`: Graph's handshake,
/// the token echoed as text/plain.
#[utoipa::path(
    post,
    path = "/push/outlook",
    operation_id = "outlook_push",
    tag = "connectors",
    params(Validation),
    request_body(
        content = Option<api_types::events::GraphNotifications>,
        content_type = "application/json",
        description = "A notification collection; none on Graph's handshake (`validationToken`)",
    ),
    responses(
        (status = 200, description = "The handshake: the validationToken as given", body = String, content_type = "text/plain"),
        (status = 202, description = "Recorded: the mailboxes are read from their cursors now"),
        (status = 400, description = "`invalid_params`: a body that is not a Graph notification collection (with or without validationToken), no body without validationToken, or a validationToken not of 1 to 1024 characters", body = crate::error::ErrorBody),
        (status = 401, description = "`unauthenticated`: no notification names a subscription of this server with its clientState", body = crate::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over the server's `max_body` (docs/limits.md)", body = crate::error::ErrorBody),
    )
)]
async fn outlook(
    state: web::Data<AppState>,
    q: web::Query<Validation>,
    body: RawBody,
) -> ApiResult<HttpResponse> {
    graph_notification(&state, &q, &body.0, false).await
}

/// Microsoft Graph lifecycle notifications (`reauthorizationRequired`: the subscription is
/// renewed; `subscriptionRemoved`: made anew; `missed`: the mailbox is read now), checked like
/// change notifications. With `validationToken`: Graph's handshake.
#[utoipa::path(
    post,
    path = "/push/outlook/lifecycle",
    operation_id = "outlook_push_lifecycle",
    tag = "connectors",
    params(Validation),
    request_body(
        content = Option<api_types::events::GraphNotifications>,
        content_type = "application/json",
        description = "A notification collection; none on Graph's handshake (`validationToken`)",
    ),
    responses(
        (status = 200, description = "The handshake: the validationToken as given", body = String, content_type = "text/plain"),
        (status = 202, description = "Recorded: the subscriptions are renewed or made anew, the mailboxes read now"),
        (status = 400, description = "`invalid_params`: a body that is not a Graph notification collection (with or without validationToken), no body without validationToken, or a validationToken not of 1 to 1024 characters", body = crate::error::ErrorBody),
        (status = 401, description = "`unauthenticated`: no notification names a subscription of this server with its clientState", body = crate::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over the server's `max_body` (docs/limits.md)", body = crate::error::ErrorBody),
    )
)]
async fn outlook_lifecycle(
    state: web::Data<AppState>,
    q: web::Query<Validation>,
    body: RawBody,
) -> ApiResult<HttpResponse> {
    graph_notification(&state, &q, &body.0, true).await
}
