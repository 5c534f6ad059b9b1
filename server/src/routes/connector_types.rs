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

async fn list(_auth: Auth, state: web::Data<AppState>) -> HttpResponse {
    let data: Vec<Value> = state.registry.all().iter().map(describe).collect();
    HttpResponse::Ok().json(json!({ "data": data }))
}
