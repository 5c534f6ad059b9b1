//! `/mcp`: the connectors over MCP's streamable HTTP transport, and the RFC 9728
//! protected-resource metadata that tells MCP clients how to authenticate.
//!
//! - `/mcp/connectors/{id}`: one connector;
//! - `/mcp/customers/{customer_name}`: the connectors of one customer;
//! - `/mcp`: every connector of the organization, chosen per call by the tools' `connector`
//!   argument (a connector id or a customer name).
//!
//! Query: `mode=compact` (three tools instead of one per action), `output_schemas=full` (the
//! complete result schema in each full-mode tool's `outputSchema` instead of its top-level
//! shape), `max_output_chars=N` (the output budget).
//!
//! The caller is an application of an organization, as on the API: `Authorization: Bearer`
//! with a token from `POST /api/v1/account/applications/token`. The token names the
//! organization; `X-Organization-Id` may be sent and must then match. Without a valid token the
//! answer is 401 with `WWW-Authenticate: Bearer resource_metadata="..."` pointing at
//! `/.well-known/oauth-protected-resource/mcp`.
//!
//! The route authenticates and resolves the session; the MCP protocol itself is rmcp's
//! streamable HTTP service, bridged in `connectors_mcp::http` (see docs/architecture.md).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use api_types::ProtectedResourceMetadata;
use connector_core::{ConnectorError, ErrorCode};
use connectors_mcp::{Mode, Options, OutputSchemas};
use serde::Deserialize;

use crate::auth::hash_token;
use crate::error::ApiError;
use crate::mcp::{Scope, ServerSession};
use crate::store::now;
use crate::AppState;

/// The path of the protected-resource metadata of `/mcp` (RFC 9728 §3.1: the well-known
/// prefix, then the resource's path).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(METADATA_PATH, web::get().to(resource_metadata_root))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            web::get().to(resource_metadata),
        )
        .route("/mcp", web::to(organization))
        .route("/mcp/connectors/{id}", web::to(connector))
        .route("/mcp/customers/{customer_name}", web::to(customer));
}

/// `mode`, `output_schemas` and `max_output_chars`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct McpParams {
    /// `full` (one tool per action, the default) or `compact` (`list_actions`,
    /// `describe_action`, `execute`).
    #[param(pattern = "^(full|compact)$")]
    mode: Option<String>,
    /// Full mode's `outputSchema` per tool: `brief` (the default: the result's top-level shape,
    /// its type and, for an object, its property names with their types) or `full` (the
    /// action's complete result schema, as compact mode's `describe_action` gives it).
    #[param(pattern = "^(brief|full)$")]
    output_schemas: Option<String>,
    /// The output budget: the most characters of result JSON in one tool result (at least 500;
    /// default 40000).
    #[param(minimum = 500)]
    max_output_chars: Option<usize>,
}

use super::oauth_server::base_url;

/// RFC 9728 protected-resource metadata of the MCP endpoint (`/mcp` and the paths under it).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-protected-resource/mcp",
    operation_id = "mcp_resource_metadata",
    tag = "mcp",
    responses((status = 200, description = "RFC 9728 protected-resource metadata of `/mcp`", content_type = "application/json", body = ProtectedResourceMetadata))
)]
async fn resource_metadata(req: HttpRequest) -> HttpResponse {
    metadata(&req)
}

/// The same document at the well-known root (clients that look there first).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-protected-resource",
    operation_id = "resource_metadata",
    tag = "mcp",
    responses((status = 200, description = "RFC 9728 protected-resource metadata of `/mcp`", content_type = "application/json", body = ProtectedResourceMetadata))
)]
async fn resource_metadata_root(req: HttpRequest) -> HttpResponse {
    metadata(&req)
}

fn metadata(req: &HttpRequest) -> HttpResponse {
    let base = base_url(req);
    HttpResponse::Ok().json(ProtectedResourceMetadata {
        resource: format!("{base}/mcp"),
        resource_name: "agent-connectors MCP".into(),
        authorization_servers: vec![base],
        bearer_methods_supported: vec!["header".into()],
    })
}

/// MCP (streamable HTTP) over every connector of the organization; each tool takes a
/// `connector` argument (a connector id or a customer name).
#[utoipa::path(
    post,
    path = "/mcp",
    operation_id = "mcp_organization",
    tag = "mcp",
    params(McpParams),
    request_body(content = Object, content_type = "application/json", description = "A JSON-RPC message of the Model Context Protocol"),
    responses(
        (status = 200, description = "The JSON-RPC answer", content(
            (Object = "application/json"),
            (String = "text/event-stream"))),
        (status = 202, description = "A notification or response was accepted"),
        (status = 401, description = "No valid bearer token; `WWW-Authenticate` names the resource metadata", body = crate::error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer resource_metadata=\"<base>/.well-known/oauth-protected-resource/mcp\"`"))),
        crate::openapi_responses::McpRefusals,
    ),
    security(("bearer" = []))
)]
async fn organization(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    serve(req, body, state, Scope::Organization).await
}

/// MCP (streamable HTTP) over one connector of the organization.
#[utoipa::path(
    post,
    path = "/mcp/connectors/{id}",
    operation_id = "mcp_connector",
    tag = "mcp",
    params(("id" = String, Path, description = "Connector id"), McpParams),
    request_body(content = Object, content_type = "application/json", description = "A JSON-RPC message of the Model Context Protocol"),
    responses(
        (status = 200, description = "The JSON-RPC answer", content(
            (Object = "application/json"),
            (String = "text/event-stream"))),
        (status = 202, description = "A notification or response was accepted"),
        (status = 401, description = "No valid bearer token; `WWW-Authenticate` names the resource metadata", body = crate::error::ErrorBody),
        crate::openapi_responses::McpRefusals,
    ),
    security(("bearer" = []))
)]
async fn connector(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    serve(req, body, state, Scope::Connector(path.into_inner())).await
}

/// MCP (streamable HTTP) over the connectors of one customer of the organization.
#[utoipa::path(
    post,
    path = "/mcp/customers/{customer_name}",
    operation_id = "mcp_customer",
    tag = "mcp",
    params(("customer_name" = String, Path, description = "The customer (end user) name"), McpParams),
    request_body(content = Object, content_type = "application/json", description = "A JSON-RPC message of the Model Context Protocol"),
    responses(
        (status = 200, description = "The JSON-RPC answer", content(
            (Object = "application/json"),
            (String = "text/event-stream"))),
        (status = 202, description = "A notification or response was accepted"),
        (status = 401, description = "No valid bearer token; `WWW-Authenticate` names the resource metadata", body = crate::error::ErrorBody),
        crate::openapi_responses::McpRefusals,
    ),
    security(("bearer" = []))
)]
async fn customer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    serve(req, body, state, Scope::Customer(path.into_inner())).await
}

async fn serve(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    scope: Scope,
) -> HttpResponse {
    // Stateless: no SSE stream to open (GET) and no session to end (DELETE).
    if req.method() != actix_web::http::Method::POST {
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .finish();
    }
    let org = match authenticate(&state, &req).await {
        Ok(org) => org,
        Err(response) => return response,
    };
    let options = match options(&req) {
        Ok(o) => o,
        Err(e) => return actix_web::ResponseError::error_response(&e),
    };
    let session = match ServerSession::open(state, &org, scope, options).await {
        Ok(s) => s,
        Err(e) => return actix_web::ResponseError::error_response(&ApiError::from(e)),
    };
    let is_json = crate::extract::is_json(&req);
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/mcp".into());
    let mut headers: Vec<(String, Vec<u8>)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    accept_both_when_any_will_do(&mut headers);
    // rmcp wants a `Host` header; HTTP/2 carries the authority in the URI instead.
    if !req.headers().contains_key(header::HOST) {
        let host = req.connection_info().host().to_string();
        headers.push(("host".into(), host.into_bytes()));
    }
    let answer = connectors_mcp::http::handle(
        req.method().as_str(),
        &uri,
        headers,
        body,
        Arc::new(session),
    )
    .await;
    if answer.status == 415 && is_json {
        // rmcp says 415 for any body it cannot read as a message; a JSON body is the right
        // media type, so the mistake is the message's (400).
        return actix_web::ResponseError::error_response(&ApiError::invalid(
            "the body is not a JSON-RPC message of the Model Context Protocol (request, notification or response)",
        ));
    }
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    // rmcp's own refusals (406, 415, ...) are short texts without a content type.
    if !answer
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        response.content_type("text/plain; charset=utf-8");
    }
    // A JSON answer is one message: sent whole, with its length, instead of as a chunked stream.
    let whole = answer
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v.starts_with(b"application/json"));
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_bytes(&value),
        ) {
            response.append_header((n, v));
        }
    }
    if whole {
        let mut chunks: Vec<web::Bytes> = futures::StreamExt::collect(answer.body).await;
        let body = match chunks.len() {
            1 => chunks.pop().unwrap_or_default(),
            _ => chunks.concat().into(),
        };
        return response.body(body);
    }
    response.streaming(futures::StreamExt::map(
        answer.body,
        Ok::<_, actix_web::Error>,
    ))
}

/// Streamable HTTP asks clients to accept both `application/json` and `text/event-stream`;
/// rmcp checks for the two names literally. A client that sends no `Accept` or `*/*` accepts
/// both (RFC 9110 §12.5.1), so it is told so in the names rmcp looks for.
fn accept_both_when_any_will_do(headers: &mut Vec<(String, Vec<u8>)>) {
    let accepts: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("accept"))
        .flat_map(|(_, v)| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|r| {
                    r.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let any = accepts.is_empty() || accepts.iter().any(|r| r == "*/*");
    if any {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("accept"));
        headers.push((
            "accept".into(),
            b"application/json, text/event-stream".to_vec(),
        ));
    }
}

fn options(req: &HttpRequest) -> Result<Options, ApiError> {
    let q = web::Query::<McpParams>::from_query(req.query_string())
        .map_err(|e| ApiError::invalid(format!("invalid query string: {e}")))?
        .into_inner();
    let mut options = Options::default();
    if let Some(m) = q.mode.as_deref() {
        options.mode = Mode::parse(m).ok_or_else(|| {
            ApiError::invalid("`mode` must be `full` (one tool per action) or `compact`")
        })?;
    }
    if let Some(o) = q.output_schemas.as_deref() {
        options.output_schemas = OutputSchemas::parse(o).ok_or_else(|| {
            ApiError::invalid(format!(
                "`output_schemas` must be `brief` (the default: each result's top-level shape) or `full` (the complete result schemas), not {o:?}"
            ))
        })?;
    }
    if let Some(n) = q.max_output_chars {
        if n < connectors_mcp::MIN_MAX_OUTPUT_CHARS {
            return Err(ApiError::invalid(format!(
                "`max_output_chars` must be at least {}",
                connectors_mcp::MIN_MAX_OUTPUT_CHARS
            )));
        }
        options.max_output_chars = n;
    }
    Ok(options)
}

/// The organization of the bearer token, or the 401/403 answer.
async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<String, HttpResponse> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(unauthorized(
            req,
            None,
            "missing bearer token: send `Authorization: Bearer <token>` from POST /api/v1/account/applications/token",
        ));
    };
    let record = match state
        .services
        .applications
        .find_token(&hash_token(token))
        .await
    {
        Ok(r) => r,
        Err(e) => return Err(actix_web::ResponseError::error_response(&ApiError::from(e))),
    };
    let Some(record) = record.filter(|r| r.expires_at > now()) else {
        return Err(unauthorized(
            req,
            Some("invalid_token"),
            "invalid or expired bearer token: request a new one",
        ));
    };
    let header_org = req
        .headers()
        .get("X-Organization-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|o| !o.is_empty());
    if header_org.is_some_and(|o| o != record.organization_id) {
        return Err(actix_web::ResponseError::error_response(&ApiError::from(
            ConnectorError::new(
                ErrorCode::PermissionDenied,
                "X-Organization-Id does not match the organization of the bearer token",
            ),
        )));
    }
    Ok(record.organization_id)
}

/// 401 with the RFC 9728 pointer to the resource metadata (RFC 6750 §3 challenge).
fn unauthorized(req: &HttpRequest, error: Option<&str>, message: &str) -> HttpResponse {
    let metadata = format!("{}{METADATA_PATH}/mcp", base_url(req));
    let challenge = match error {
        Some(e) => format!(r#"Bearer error="{e}", resource_metadata="{metadata}""#),
        None => format!(r#"Bearer resource_metadata="{metadata}""#),
    };
    let e = ConnectorError::new(ErrorCode::Unauthenticated, message);
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .json(e.to_body())
}
