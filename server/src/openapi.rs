//! `GET /openapi.json` (no auth): the OpenAPI 3.1 document of the API, generated from the
//! handlers' `#[utoipa::path]` annotations and the `ToSchema` derives of their request and
//! response types.
//!
//! [`Conventions`] adds what every route shares instead of repeating it per handler: the
//! security requirement (from [`crate::auth::requires_auth`], the rule the auth middleware
//! applies), and the error responses every route can give (401/403 with auth, 400/413 with a
//! body, 404 with a path id, 500). Error bodies are [`ErrorBody`], whose `code` enum is the
//! core error table. `server/tests/integration/api/openapi.rs` checks that every response the API suite
//! records matches this document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use connector_core::ErrorCode;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes;
use api_types::{ErrorBody, StatusChangedEvent};

/// Where the document is served.
pub const PATH: &str = "/openapi.json";

const DESCRIPTION: &str = "\
Agent connectors (Gmail, Outlook) as a hosted API, compatible with Airbyte's hosted agent API.

Authenticate as an application of an organization: `POST /api/v1/account/applications/token` \
with `{client_id, client_secret}` returns a bearer token; send it as `Authorization: Bearer ...` \
together with `X-Organization-Id` on every other `/api/` call.

Every failing request answers `{\"error\": {\"code\", \"message\", \"details\"}}`; each `code` \
has exactly one HTTP status (see the `ErrorCode` schema).

Short paths: every `/api/v1/integrations/connectors...` route is also served without the \
`/api/v1/integrations` prefix (`POST /connectors/{id}/execute`, `GET /connectors`, ...), with \
the same handlers, auth and error bodies.

Limits (defaults; see docs/limits.md): request bodies are one JSON object sent with `Content-Type: application/json`, nothing after it; at most 1 MiB, except execute (50 MiB, `--max-execute-body`) and attachment uploads (raw bytes, 35 MiB; an organization's live attachment handles hold at most 1 GiB; handles expire after 1 hour by default, at most 24 hours), else `413 payload_too_large`. A request's headers must arrive within 5 s (`408`) and its body within 15 s (`--body-timeout-secs`, else `400 invalid_params` and the connection is closed); idle keep-alive connections close after 5 s; at most 10,000 connections are open (`--max-connections`). The token endpoint answers `429 rate_limited` with `Retry-After` beyond 60 requests per source address (refilled at 10 per second), 10 failed requests per client id (refilled at 1 per second) or 2 secret checks at once (after a 2 s wait); the OAuth callback beyond 60 requests per source address (refilled at 10 per second). Error messages quote at most 64 characters of any input; `details` strings are at most 160 characters. A known path asked with another method answers `405 method_not_allowed` with `Allow`.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Agent connectors API"),
    paths(
        routes::tokens::token,
        routes::oauth_server::metadata,
        routes::oauth_server::authorize,
        routes::oauth_server::token,
        routes::apps::list,
        routes::apps::revoke,
        routes::apps::rotate_secret,
        routes::connector_types::list,
        routes::connectors::create,
        routes::connectors::list,
        routes::connectors::get,
        routes::connectors::patch,
        routes::connectors::delete,
        routes::connectors::status,
        routes::connectors::tools_for,
        routes::execute::execute,
        routes::attachments::upload,
        routes::attachments::download,
        routes::attachments::delete,
        routes::credential::get,
        routes::events::feed,
        routes::events::deliveries,
        routes::events::redeliver,
        routes::push::gmail,
        routes::push::outlook,
        routes::push::outlook_lifecycle,
        routes::oauth::initiate,
        routes::oauth::callback,
        routes::oauth::reauthorize,
        routes::oauth::account,
        routes::connect::create,
        routes::connect::button_js,
        routes::connect::page_js,
        routes::connect::css,
        routes::connect::page,
        routes::connect::choose,
        routes::connect::done,
        routes::connect::finished,
        routes::connect::reconnect_link,
        routes::connect::reconnect,
        routes::oauth_apps::create,
        routes::oauth_apps::list,
        routes::oauth_apps::get,
        routes::oauth_apps::update,
        routes::oauth_apps::delete,
        routes::org_settings::get,
        routes::org_settings::put,
        routes::guardrails::get_connector_policy,
        routes::guardrails::put_connector_policy,
        routes::guardrails::get_org_policy,
        routes::guardrails::put_org_policy,
        routes::guardrails::list,
        routes::guardrails::get,
        routes::guardrails::approve,
        routes::guardrails::reject,
        routes::guardrails::link,
        routes::guardrails::page::show,
        routes::guardrails::page::decide,
        routes::mcp::organization,
        routes::mcp::connector,
        routes::mcp::customer,
        routes::mcp::resource_metadata,
        routes::mcp::resource_metadata_root,
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::scrape,
        openapi_json,
    ),
    components(schemas(ErrorBody, StatusChangedEvent)),
    modifiers(&Conventions),
    tags(
        (name = "applications", description = "API applications of an organization and their bearer tokens"),
        (name = "connectors", description = "Connectors of the organization's end users, and running their actions"),
        (name = "oauth", description = "The OAuth flow that creates or re-authorizes a connector"),
        (name = "connect", description = "The connect page (a single-use URL from `POST /api/v1/integrations/connectors/connect/sessions`) and the embeddable connect button"),
        (name = "oauth-apps", description = "Bring-your-own OAuth apps"),
        (name = "organization", description = "Organization settings"),
        (name = "attachments", description = "Attachments by reference: uploads, handles and downloads (docs/attachments.md)"),
        (name = "guardrails", description = "Send policies and approvals of sends (docs/guardrails.md)"),
        (name = "connector-types", description = "The connector types this server runs"),
        (name = "mcp", description = "The connectors as Model Context Protocol tools (streamable HTTP) and the resource metadata MCP clients discover"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The `webhooks` section (OpenAPI 3.1; utoipa 5 has no attribute for it).
fn webhooks() -> serde_json::Value {
    let header = |name: &str, description: &str, required: bool| {
        serde_json::json!({
            "name": name, "in": "header", "required": required,
            "description": description, "schema": {"type": "string"}
        })
    };
    serde_json::json!({
        "connector.status_changed": {"post": {
            "tags": ["connectors"],
            "summary": "A connector's status changed (needs_reauth, active again, deleted)",
            "description": "POSTed to the organization's `webhook_url` (organization settings). Deliveries run in the background; an answer other than 2xx is retried with backoff (1 s, 5 s, 30 s, 2 min, 10 min), each attempt signed afresh. Verify `X-Connectors-Signature` (`t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`), reject timestamps older than five minutes and compare in constant time.",
            "operationId": "connector_status_changed",
            "parameters": [
                header("X-Connectors-Event-Id", "The event id (same as `id`)", true),
                header("X-Connectors-Event-Type", "`connector.status_changed`", true),
                header("X-Connectors-Signature", "Present when the organization set a webhook secret", false),
            ],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/StatusChangedEvent"}
            }}},
            "responses": {"2XX": {"description": "Received"}}
        }}
    })
}

/// The shared parts of every operation (see the module docs).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.info.description = Some(DESCRIPTION.to_string());
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from POST /api/v1/account/applications/token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "organization",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Organization-Id",
                "The organization of the bearer token's application",
            ))),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The configured metrics token (CONNECTORS_METRICS_TOKEN)",
                    ))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                shared_parts(path, op);
            }
        }
    }
}

/// Raw bytes (attachment uploads and downloads) as OpenAPI says them: a binary string, not
/// utoipa's array of integers for `Vec<u8>`.
fn binary_bodies(op: &mut Operation) {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
    use utoipa::openapi::RefOr;
    let binary = || {
        Some(RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .build(),
        )))
    };
    if let Some(c) = op
        .request_body
        .as_mut()
        .and_then(|b| b.content.get_mut("application/octet-stream"))
    {
        c.schema = binary();
    }
    for response in op.responses.responses.values_mut() {
        if let RefOr::T(r) = response {
            if let Some(c) = r.content.get_mut("application/octet-stream") {
                c.schema = binary();
            }
        }
    }
}

fn shared_parts(path: &str, op: &mut Operation) {
    binary_bodies(op);
    let mut statuses: Vec<u16> = Vec::new();
    if crate::auth::requires_auth(path) {
        op.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )
        .add("organization", Vec::<String>::new())]);
        statuses.extend([401, 403]);
    }
    if op.request_body.is_some() {
        statuses.extend([400, 413]);
    }
    if path.contains('{') {
        statuses.push(404);
    }
    if op.operation_id.as_deref() == Some("execute_action") {
        // The connector can answer any code of the table.
        statuses.extend(ErrorCode::ALL.iter().map(|c| c.http_status()));
    }
    if !matches!(op.operation_id.as_deref(), Some("healthz" | "openapi_json")) {
        statuses.push(500);
    }
    for status in statuses {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(status).into());
    }
}

/// An error response for a status, naming the codes of the table that have it.
fn error_response(status: u16) -> Response {
    let codes: Vec<String> = ErrorCode::ALL
        .iter()
        .filter(|c| c.http_status() == status)
        .map(|c| format!("`{}` ({})", c.as_str(), c.title()))
        .collect();
    let mut response = ResponseBuilder::new()
        .description(codes.join(", "))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        );
    if status == 429 || status == 503 {
        response = response.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer),
                )
                .description(Some("Seconds to wait before retrying (when known)"))
                .build(),
        );
    }
    response.build()
}

/// The document (built once), without the `webhooks` section that [`json`] adds.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// The document as JSON (rendered once).
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(document()).expect("the OpenAPI document serializes");
        crate::openapi_types::describe(&mut doc);
        crate::openapi_links::add(&mut doc);
        doc["webhooks"] = webhooks();
        serde_json::to_string(&doc).expect("the OpenAPI document serializes")
    })
}

/// Operations per path: `(path, [methods])`, as documented.
pub fn operations() -> BTreeMap<String, Vec<String>> {
    let doc: serde_json::Value = serde_json::from_str(json()).expect("valid JSON");
    doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(m, _)| {
                    [
                        "get", "put", "post", "delete", "patch", "head", "options", "trace",
                    ]
                    .contains(&m.as_str())
                })
                .map(|(m, _)| m.clone())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// The documented methods of the path a request names (`/api/v1/oauth-apps/abc` matches
/// `/api/v1/oauth-apps/{id}`), upper case; `None` when no documented path matches. The `Allow`
/// header of a 405.
pub fn allowed_methods(path: &str) -> Option<Vec<String>> {
    static TABLE: OnceLock<Vec<(Vec<String>, Vec<String>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        operations()
            .into_iter()
            .map(|(p, m)| {
                let segments = p.split('/').map(str::to_string).collect();
                let methods = m.iter().map(|m| m.to_ascii_uppercase()).collect();
                (segments, methods)
            })
            .collect()
    });
    let asked: Vec<&str> = path.split('/').collect();
    let matches = |template: &[String]| {
        template.len() == asked.len()
            && template
                .iter()
                .zip(&asked)
                .all(|(t, a)| t == a || (t.starts_with('{') && t.ends_with('}') && !a.is_empty()))
    };
    // A literal segment beats a parameter (`/connectors/oauth/initiate` vs `/connectors/{id}/...`).
    table
        .iter()
        .filter(|(t, _)| matches(t))
        .max_by_key(|(t, _)| t.iter().filter(|s| !s.starts_with('{')).count())
        .map(|(_, m)| m.clone())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(openapi_json));
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}
