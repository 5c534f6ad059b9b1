//! Gmail's API behind the kit's HTTP pipeline: one axum fallback that hands each request to the
//! dispatch of [`crate::router`] on a blocking-friendly thread (the store is behind a std
//! mutex), and turns its answer into an HTTP response.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::error::ApiError;
use crate::router::{self, Req, Resp};
use crate::Inner;

/// A resumable upload session started with `uploadType=resumable`.
#[derive(Clone)]
pub(crate) struct PendingUpload {
    pub method: axum::http::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: axum::http::HeaderMap,
    pub metadata: Bytes,
    pub received: Vec<u8>,
}

/// Every path but the OAuth endpoints (which are the kit's).
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .fallback(entry)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(inner)
}

async fn entry(State(inner): State<Arc<Inner>>, req: Request<axum::body::Body>) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut req = Req::new(
        parts.method,
        parts.uri.path(),
        parts.uri.query(),
        parts.headers,
        body,
    );
    // The request holds its user's request slots (one per call, one per batch part) while it
    // runs, latency included, so that slow requests overlap as they do at Google.
    let user = req
        .bearer()
        .and_then(|t| inner.kit.authenticate(t).ok())
        .map(|g| g.user);
    let wanted = router::slots_wanted(&req);
    if let Some(user) = &user {
        req.slots = Some(inner.kit.take_slots(user, wanted));
    }
    inner.kit.call_latency().await;
    let held = req.slots.unwrap_or(0);
    let run = inner.clone();
    let resp = tokio::task::spawn_blocking(move || router::dispatch(&run, &req))
        .await
        .unwrap_or_else(|_| {
            Resp::error(&ApiError::server_error(StatusCode::INTERNAL_SERVER_ERROR))
        });
    if let Some(user) = &user {
        inner.kit.release_slots(user, held);
    }
    resp.into_response()
}

impl IntoResponse for Resp {
    fn into_response(self) -> Response {
        let mut out = (self.status, self.body).into_response();
        out.headers_mut().remove("content-type");
        for (k, v) in self.headers {
            if let (Ok(name), Ok(val)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                out.headers_mut().append(name, val);
            }
        }
        out
    }
}
