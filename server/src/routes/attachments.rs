//! Attachment handles (docs/attachments.md): upload a file for a handle, download a handle's
//! bytes, delete a handle. The work is [`crate::services::attachments`]'s.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use api_types::AttachmentHandle;
use futures::StreamExt;
use serde::Deserialize;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::services::attachments::PATH;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::post().to(upload)).service(
        web::resource(format!("{PATH}/{{handle}}"))
            .route(web::get().to(download))
            .route(web::delete().to(delete)),
    );
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The file name recipients see (1 to 255 characters, no control characters).
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]+$"
    )]
    filename: String,
    /// Lifetime of the handle in seconds (1 to 86,400; default 3,600).
    #[param(minimum = 1, maximum = 86400)]
    ttl_seconds: Option<u64>,
}

/// Uploads a file (the raw bytes as the body, its type as `Content-Type`) and returns a handle
/// for it, scoped to the organization and expiring (default one hour). Pass the handle as
/// `{"content_ref": {"handle": "att_..."}}` in place of `content_base64` in `messages.send`,
/// drafts or Outlook's `attachments.add`. At most 35 MiB (`413 payload_too_large`); the live
/// handles of an organization hold at most 1 GiB together.
#[utoipa::path(
    post,
    path = "/api/v1/attachments",
    operation_id = "upload_attachment",
    tag = "attachments",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file's bytes (any `Content-Type`: it becomes the attachment's MIME type), at most 36,700,160 bytes (35 MiB)"),
    responses(
        (status = 201, description = "The handle", body = AttachmentHandle),
        (status = 400, description = "`invalid_params`: no or a bad `filename` or `ttl_seconds`, or no `Content-Type`", body = crate::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: over 35 MiB, or the organization's handles would hold over 1 GiB", body = crate::error::ErrorBody),
    )
)]
async fn upload(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<UploadQuery>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    if q.filename.is_empty()
        || q.filename.chars().count() > 255
        || q.filename.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "`filename` must be 1 to 255 characters without control characters",
        ));
    }
    if q.ttl_seconds.is_some_and(|t| !(1..=86_400).contains(&t)) {
        return Err(ApiError::invalid(
            "`ttl_seconds` must be between 1 and 86400",
        ));
    }
    // The file's type is required: a request without one (and without a body) is not an
    // upload of an empty file but a request that forgot the file.
    let Some(mime) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return Err(ApiError::invalid(
            "send the file's bytes as the body with its type as `Content-Type` \
             (application/octet-stream when unknown)",
        ));
    };
    let service = &state.services.attachments;
    let limit = service.limits().max_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(crate::extract::too_large(limit));
    }
    let timeout = state.config.limits.body_timeout;
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::invalid("the request body could not be read"))?;
            if body.len() + chunk.len() > limit {
                return Err(crate::extract::too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = tokio::time::timeout(timeout, read).await.map_err(|_| {
        ApiError::invalid(format!(
            "the request body did not arrive within {} seconds",
            timeout.as_secs_f64()
        ))
    })??;
    let handle = service
        .put(
            &auth.organization_id,
            &q.filename,
            &mime,
            &body,
            "upload",
            q.ttl_seconds.map(Duration::from_secs),
        )
        .await?;
    Ok(HttpResponse::Created().json(handle))
}

/// The bytes of a handle of the organization (another organization's or an expired handle is
/// `404`), as `application/octet-stream` with `Content-Disposition: attachment` (the file
/// name) and the SHA-256 in `X-Content-SHA256`; the MIME type is in the handle.
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{handle}",
    operation_id = "download_attachment",
    tag = "attachments",
    params(("handle" = String, Path, description = "The handle (`att_...`)")),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("X-Content-SHA256" = String, description = "SHA-256 of the bytes, lowercase hex"))),
        (status = 404, description = "`not_found`: no such handle in the organization, or expired", body = crate::error::ErrorBody),
    )
)]
async fn download(
    auth: Auth,
    state: web::Data<AppState>,
    handle: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (h, bytes) = state
        .services
        .attachments
        .get(&auth.organization_id, &handle)
        .await?;
    // The file name as an RFC 6266 `filename*` (UTF-8, percent-encoded): no quoting problems.
    let encoded: String = h
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename*=UTF-8''{encoded}"),
        ))
        .insert_header(("X-Content-SHA256", h.sha256))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}

/// Deletes a handle of the organization before it expires.
#[utoipa::path(
    delete,
    path = "/api/v1/attachments/{handle}",
    operation_id = "delete_attachment",
    tag = "attachments",
    params(("handle" = String, Path, description = "The handle (`att_...`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such handle in the organization", body = crate::error::ErrorBody),
    )
)]
async fn delete(
    auth: Auth,
    state: web::Data<AppState>,
    handle: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state
        .services
        .attachments
        .delete(&auth.organization_id, &handle)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
