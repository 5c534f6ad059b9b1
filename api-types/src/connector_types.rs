//! `GET /api/v1/connector-types`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One connector type: its spec, credential schema and tool definitions.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorTypeList {
    pub data: Vec<ConnectorTypeView>,
}
