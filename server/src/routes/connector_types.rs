//! `GET /api/v1/connector-types`: definition ids, specs, JSON Schemas and tool definitions.

use actix_web::{web, HttpResponse};
use api_types::{ConnectorTypeList, ConnectorTypeView, ToolSets};
use connector_core::tools::{self, ToolFormat};
use serde_json::Value;

use crate::auth::Auth;
use crate::registry::ConnectorType;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/connector-types", web::get().to(list));
}

/// The public description of one type.
pub fn describe(kind: &ConnectorType) -> ConnectorTypeView {
    let spec = &kind.spec;
    ConnectorTypeView {
        connector_type: kind.name.clone(),
        definition_id: kind.definition_id.clone(),
        description: spec.description.clone(),
        version: spec.version.clone(),
        auth: value(&spec.auth),
        spec: value(spec.as_ref()),
        tools: ToolSets {
            execute: value(&tools::execute_tool(spec)),
            openai: value(&tools::action_tools(spec, ToolFormat::OpenAi)),
            anthropic: value(&tools::action_tools(spec, ToolFormat::Anthropic)),
            mcp: value(&tools::action_tools(spec, ToolFormat::Mcp)),
        },
    }
}

fn value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("specs and tools serialize")
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
    HttpResponse::Ok().json(ConnectorTypeList {
        data: state.registry.all().iter().map(describe).collect(),
    })
}
