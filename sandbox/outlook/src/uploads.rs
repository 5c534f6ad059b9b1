//! Upload sessions: `createUploadSession` opens one; `PUT {root}/upload/sessions/{token}` takes
//! byte ranges in order (no Authorization: the URL is the credential, as with Graph's URLs).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::admin;
use super::graph::{Req, SEGMENT};
use super::reply::{self, Reply};
use super::state::Inner;

pub fn open_session(mb: &mut super::model::Mailbox, req: &Req<'_>, id: &str) -> Reply {
    match admin::new_session(mb, req, &req.user, id) {
        Ok(session) => {
            let token = uuid::Uuid::new_v4().simple().to_string();
            let url = format!("{}/upload/sessions/{token}", req.root);
            let body = admin::session_json(&session, &url);
            *req.session.borrow_mut() = Some((token, session));
            Reply::json(201, body)
        }
        Err(e) => e,
    }
}

/// `PUT {root}/upload/sessions/{token}`: a byte range of an attachment (no Authorization: the
/// URL is the credential, as with Graph's upload URLs).
pub async fn upload(
    State(inner): State<Arc<Inner>>,
    axum::extract::Path(token): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let range = headers.get("content-range").and_then(|v| v.to_str().ok());
    let mut sessions = inner.sessions.lock().expect("sessions");
    let Some(session) = sessions.get_mut(&token) else {
        return reply::error(
            404,
            "ErrorItemNotFound",
            "The upload session does not exist or has expired.",
        )
        .into_response();
    };
    if session.expires < chrono::Utc::now() {
        sessions.remove(&token);
        return reply::error(404, "ErrorItemNotFound", "The upload session has expired.")
            .into_response();
    }
    match admin::accept_range(session, range, &body) {
        Err(e) => e.into_response(),
        Ok(false) => {
            let url = format!("{}/upload/sessions/{token}", inner.root);
            Reply::ok(admin::session_json(session, &url)).into_response()
        }
        Ok(true) => {
            let Some(done) = sessions.remove(&token) else {
                return reply::not_found("upload session").into_response();
            };
            drop(sessions);
            let user = done.user.clone();
            let message = done.message_id.clone();
            match inner
                .with_mailbox(&user, |mb| admin::finish_session(mb, done))
                .flatten()
            {
                Some(att) => Reply::json(201, serde_json::json!({"id": att}))
                    .header(
                        "Location",
                        format!(
                            "{}/v1.0/users/{user}/messages/{}/attachments/{att}",
                            inner.root,
                            percent_encoding::utf8_percent_encode(&message, SEGMENT)
                        ),
                    )
                    .into_response(),
                None => reply::not_found("message").into_response(),
            }
        }
    }
}
