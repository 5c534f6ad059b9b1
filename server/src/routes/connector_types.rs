//! `GET /api/v1/connector-types`: definition ids, specs, JSON Schemas and tool definitions.

use actix_web::{web, HttpResponse};
use connector_core::tools::{self, ToolFormat};
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::registry::ConnectorType;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/connector-types", web::get().to(list));
}

/// The public description of one type.
pub fn describe(kind: &ConnectorType) -> Value {
    let spec = &kind.spec;
    json!({
        "connector_type": kind.name,
        "definition_id": kind.definition_id,
        "description": spec.description,
        "version": spec.version,
        "auth": spec.auth,
        "spec": spec.as_ref(),
        "tools": {
            "execute": tools::execute_tool(spec),
            "openai": tools::action_tools(spec, ToolFormat::OpenAi),
            "anthropic": tools::action_tools(spec, ToolFormat::Anthropic),
            "mcp": tools::action_tools(spec, ToolFormat::Mcp),
        },
    })
}

/// One connector type: its spec, credential schema and tool definitions.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorTypeView {
    /// `gmail`, `outlook`.
    pub connector_type: String,
    pub definition_id: String,
    pub description: String,
    pub version: String,
    /// The auth schemes and the JSON Schema of the credentials.
    #[schema(value_type = Object)]
    pub auth: Value,
    /// The full spec: entities, actions, parameter and result JSON Schemas.
    #[schema(value_type = Object)]
    pub spec: Value,
    pub tools: ToolSets,
}

/// The tool definitions of a type, per format.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolSets {
    /// One generic `execute` tool covering every action.
    #[schema(value_type = Object)]
    pub execute: Value,
    /// One tool per action, OpenAI function-calling format.
    #[schema(value_type = Vec<Object>)]
    pub openai: Value,
    /// One tool per action, Anthropic tool-use format.
    #[schema(value_type = Vec<Object>)]
    pub anthropic: Value,
    /// One tool per action, MCP `tools/list` format.
    #[schema(value_type = Vec<Object>)]
    pub mcp: Value,
}

/// `{"data": [...]}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorTypeList {
    pub data: Vec<ConnectorTypeView>,
}

/// The connector types this server runs.
#[utoipa::path(
    get,
    path = "/api/v1/connector-types",
    operation_id = "list_connector_types",
    tag = "connector-types",
    responses((status = 200, description = "Every connector type", body = ConnectorTypeList))
)]
async fn list(_auth: Auth, state: web::Data<AppState>) -> HttpResponse {
    let data: Vec<Value> = state.registry.all().iter().map(describe).collect();
    HttpResponse::Ok().json(json!({ "data": data }))
}
