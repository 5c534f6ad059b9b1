//! The server as an OAuth 2.0 authorization server for its own applications, so that MCP
//! clients discover how to authenticate (`/mcp`'s RFC 9728 metadata names this server in
//! `authorization_servers`):
//!
//! - `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata;
//! - `POST /oauth/token`: RFC 6749 §4.4 `client_credentials` with an application's client id
//!   and secret (HTTP Basic or in the form), the same check, limits and tokens as
//!   `POST /api/v1/account/applications/token`;
//! - `GET /oauth/authorize`: the authorization endpoint RFC 8414 asks for, which refuses every
//!   request: no grant here involves a browser.
//!
//! Errors of the token endpoint are RFC 6749 §5.2 bodies (`{"error", "error_description"}`);
//! throttling (429) and server failures keep the API's error body.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use api_types::{AuthorizationServerMetadata, OAuthErrorBody, TokenResponse};
use base64::Engine;
use connector_core::{ErrorCode, Secret};

use crate::error::{excerpt, ApiError, MAX_QUOTE};
use crate::AppState;

pub const TOKEN_PATH: &str = "/oauth/token";
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// Largest token request body: a form of a few short fields.
const MAX_FORM: usize = 8 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(METADATA_PATH, web::get().to(metadata))
        .route(AUTHORIZE_PATH, web::get().to(authorize))
        .service(
            web::resource(TOKEN_PATH)
                .app_data(web::PayloadConfig::new(MAX_FORM))
                .route(web::post().to(token)),
        );
}

/// The base URL clients reach this server at (scheme and host of the request).
pub fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// RFC 8414 authorization-server metadata.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    operation_id = "authorization_server_metadata",
    tag = "mcp",
    responses((status = 200, description = "RFC 8414 authorization-server metadata (client_credentials only)", body = AuthorizationServerMetadata))
)]
async fn metadata(req: HttpRequest) -> HttpResponse {
    let base = base_url(&req);
    HttpResponse::Ok().json(AuthorizationServerMetadata {
        issuer: base.clone(),
        authorization_endpoint: format!("{base}{AUTHORIZE_PATH}"),
        token_endpoint: format!("{base}{TOKEN_PATH}"),
        response_types_supported: Vec::new(),
        grant_types_supported: vec!["client_credentials".into()],
        token_endpoint_auth_methods_supported: vec![
            "client_secret_basic".into(),
            "client_secret_post".into(),
        ],
        service_documentation: format!("{base}/openapi.json"),
    })
}

/// The authorization endpoint: refuses every request (`unsupported_response_type`).
#[utoipa::path(
    get,
    path = "/oauth/authorize",
    operation_id = "oauth_authorize",
    tag = "mcp",
    responses((status = 400, description = "`unsupported_response_type`: tokens come from `POST /oauth/token` with the `client_credentials` grant", body = OAuthErrorBody))
)]
async fn authorize() -> HttpResponse {
    oauth_error(
        400,
        "unsupported_response_type",
        "this server issues tokens only through the client_credentials grant: POST /oauth/token with an application's client_id and client_secret",
    )
}

/// The form of `POST /oauth/token`, as the document states it (the handler reads the form
/// itself: each parameter at most once, unknown ones ignored as RFC 6749 §3.2 says).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenForm {
    /// `client_credentials`, the one grant of this server.
    #[schema(pattern = "^client_credentials$")]
    grant_type: String,
    /// With `client_secret_post`; with HTTP Basic, absent or the same client.
    client_id: Option<String>,
    /// With `client_secret_post` (never together with HTTP Basic).
    #[schema(format = Password)]
    client_secret: Option<String>,
    /// This server has no scopes: absent or blank.
    #[schema(pattern = r"^\s*$")]
    scope: Option<String>,
    /// RFC 8707: this server's base URL or a URL under it (e.g. `<base>/mcp`).
    resource: Option<String>,
}

/// RFC 6749 §4.4: an application's client id and secret -> a bearer token.
#[utoipa::path(
    post,
    path = "/oauth/token",
    operation_id = "oauth_token",
    tag = "mcp",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded",
        description = "`grant_type=client_credentials`; the client authenticates with HTTP Basic (`client_secret_basic`) or `client_id` and `client_secret` in the form (`client_secret_post`); `resource` (RFC 8707), if sent, must be this server or a URL under it; `scope`, if sent, must be empty. Each parameter at most once; at most 8 KiB."),
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`, `unsupported_grant_type`, `invalid_scope` or `invalid_target`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: unknown client, wrong secret or revoked application", body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"agent-connectors\"` when the client used HTTP Basic"))),
        (status = 429, description = "`rate_limited`, as for `POST /api/v1/account/applications/token`; wait `Retry-After` seconds", body = crate::error::ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
    )
)]
async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = match read_form(&req, &body) {
        Ok(f) => f,
        Err(e) => return Ok(e),
    };
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return Ok(oauth_error(
                400,
                "unsupported_grant_type",
                &format!(
                    "grant_type '{}' is not supported; use client_credentials",
                    excerpt(other, MAX_QUOTE)
                ),
            ))
        }
        None => {
            return Ok(oauth_error(
                400,
                "invalid_request",
                "grant_type is missing; send grant_type=client_credentials",
            ))
        }
    }
    if form.get("scope").is_some_and(|s| !s.trim().is_empty()) {
        return Ok(oauth_error(
            400,
            "invalid_scope",
            "this server has no scopes: an application's token reaches what its organization owns; leave scope out",
        ));
    }
    let base = base_url(&req);
    if let Some(resource) = form.get("resource") {
        let ours = resource == &base
            || resource
                .strip_prefix(&base)
                .is_some_and(|rest| rest.starts_with('/'));
        if !ours {
            return Ok(oauth_error(
                400,
                "invalid_target",
                &format!(
                    "resource '{}' is not served here; name {base}/mcp or leave resource out",
                    excerpt(resource, MAX_QUOTE)
                ),
            ));
        }
    }
    let basic = match basic_credentials(&req) {
        Ok(b) => b,
        Err(e) => return Ok(e),
    };
    let in_form = (form.get("client_id"), form.get("client_secret"));
    let (client_id, secret, used_basic) = match (basic, in_form) {
        (Some(_), (_, Some(_))) => {
            return Ok(oauth_error(
                400,
                "invalid_request",
                "the client authenticated twice (HTTP Basic and client_secret in the form); use one",
            ))
        }
        (Some((id, secret)), (form_id, None)) => {
            if form_id.is_some_and(|f| f != &id) {
                return Ok(oauth_error(
                    400,
                    "invalid_request",
                    "client_id in the form differs from the HTTP Basic client",
                ));
            }
            (id, secret, true)
        }
        (None, (Some(id), Some(secret))) => (id.clone(), secret.clone(), false),
        (None, _) => {
            return Ok(oauth_error(
                401,
                "invalid_client",
                "no client authentication: send the application's client_id and client_secret with HTTP Basic or in the form",
            ))
        }
    };
    let source = req.peer_addr().map(|a| a.ip());
    let issued = state
        .services
        .applications
        .issue_token(&client_id, &Secret::new(secret), source)
        .await;
    match issued {
        Ok(issued) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(TokenResponse {
                access_token: issued.access_token.expose().to_string(),
                token_type: "Bearer".into(),
                expires_in: issued.expires_in,
            })),
        Err(e) if e.code == ErrorCode::Unauthenticated => {
            let mut resp = oauth_error(401, "invalid_client", "invalid client_id or client_secret");
            if used_basic {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"agent-connectors\""),
                );
            }
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .json(OAuthErrorBody {
        error: error.into(),
        error_description: description.into(),
    })
}

/// The form of a token request: `application/x-www-form-urlencoded`, each parameter once
/// (RFC 6749 §3.2).
fn read_form(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, HttpResponse> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(oauth_error(
            400,
            "invalid_request",
            "send the token request as Content-Type: application/x-www-form-urlencoded",
        ));
    }
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if form.insert(k.to_string(), v.to_string()).is_some() {
            return Err(oauth_error(
                400,
                "invalid_request",
                &format!(
                    "parameter '{}' is sent more than once; send each once",
                    excerpt(&k, MAX_QUOTE)
                ),
            ));
        }
    }
    Ok(form)
}

/// `Authorization: Basic` client credentials (RFC 6749 §2.3.1: each part form-urlencoded,
/// then base64), or None without that header.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, HttpResponse> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        oauth_error(
            401,
            "invalid_client",
            "the Authorization header is not HTTP Basic client authentication (base64 of client_id:client_secret)",
        )
    };
    let value = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Err(bad());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}
