//! Push endpoints of the providers (outside `/api/`: the providers authenticate with their own
//! tokens, checked by [`crate::services::events::push`]).
//!
//! - `POST /push/gmail`: Google Cloud Pub/Sub push for Gmail's `users.watch`. 204 once the
//!   mailbox's poll is recorded as due; 401 for a token that does not verify (Pub/Sub retries,
//!   nothing is recorded); 404 when Gmail push is not configured.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiResult;
use crate::AppState;

pub const GMAIL: &str = "/push/gmail";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(GMAIL, web::post().to(gmail));
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
        (status = 404, description = "`not_found`: Gmail push is not configured", body = crate::error::ErrorBody),
    )
)]
async fn gmail(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    state
        .services
        .events
        .gmail_pushed(bearer(&req), &body)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
