//! The connector kinds and what their specs say: entities, schemas, tool definitions.

use std::sync::Arc;

use connector_core::tools::{self, ToolFormat};
use connector_core::{CompiledSpec, ConnectorSpec, ErrorCode, ProviderDescriptor};
use pyo3::prelude::*;

use crate::errors::new_error;

/// Which connector a native object drives: one of the built-in connector types
/// ([`providers::all`]).
#[derive(Debug, Clone, Copy)]
pub struct Kind(&'static ProviderDescriptor);

impl Kind {
    pub fn parse(py: Python<'_>, name: &str) -> PyResult<Kind> {
        providers::get(name).map(Kind).ok_or_else(|| {
            new_error(
                py,
                ErrorCode::InvalidParams,
                format!("unknown connector kind `{name}`: use {}", known_names()),
            )
        })
    }

    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    /// The connector type's descriptor.
    pub fn descriptor(self) -> &'static ProviderDescriptor {
        self.0
    }

    /// The compiled spec, parsed once per process by the connector crate.
    pub fn compiled(self) -> Arc<CompiledSpec> {
        (self.0.spec)()
    }
}

/// "`a`, `b` or `c`".
fn known_names() -> String {
    let names: Vec<String> = providers::all()
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

fn with_spec<T>(py: Python<'_>, kind: &str, f: impl FnOnce(&ConnectorSpec) -> T) -> PyResult<T> {
    let compiled = Kind::parse(py, kind)?.compiled();
    Ok(f(compiled.spec()))
}

/// `spec_json(kind)`: the whole connector spec as JSON text.
#[pyfunction]
pub fn spec_json(py: Python<'_>, kind: &str) -> PyResult<String> {
    with_spec(py, kind, |s| serde_json::to_string(s).unwrap_or_default())
}

/// `tools_json(kind, format)`: one typed tool per action, in `openai`, `anthropic` or `mcp` format.
#[pyfunction]
pub fn tools_json(py: Python<'_>, kind: &str, format: &str) -> PyResult<String> {
    let format = match format {
        "openai" => ToolFormat::OpenAi,
        "anthropic" => ToolFormat::Anthropic,
        "mcp" => ToolFormat::Mcp,
        other => {
            return Err(new_error(
                py,
                ErrorCode::InvalidParams,
                format!("unknown tool format `{other}`: use `openai`, `anthropic` or `mcp`"),
            ))
        }
    };
    with_spec(py, kind, |s| {
        serde_json::Value::Array(tools::action_tools(s, format)).to_string()
    })
}

/// `execute_tool_json(kind)`: the single `execute(entity, action, params)` tool with its
/// generated description.
#[pyfunction]
pub fn execute_tool_json(py: Python<'_>, kind: &str) -> PyResult<String> {
    with_spec(py, kind, |s| tools::execute_tool(s).to_string())
}

/// `catalogue(kind)`: the text catalogue of entities, actions and params (with the paging
/// rules) that tool descriptions carry.
#[pyfunction]
pub fn catalogue(py: Python<'_>, kind: &str) -> PyResult<String> {
    with_spec(py, kind, tools::catalogue)
}

/// `tool_index_json(kind)`: `{tool name: [entity, action]}` for every per-action tool, and the
/// single execute tool's name under `""`, so a tool call can be routed back to `execute`.
#[pyfunction]
pub fn tool_index_json(py: Python<'_>, kind: &str) -> PyResult<String> {
    with_spec(py, kind, |s| {
        let mut index = serde_json::Map::new();
        for (entity, e) in &s.entities {
            for action in e.actions.keys() {
                index.insert(
                    tools::tool_name(&[entity, action]),
                    serde_json::json!([entity, action]),
                );
            }
        }
        let execute = tools::execute_tool(s);
        index.insert(String::new(), execute["name"].clone());
        serde_json::Value::Object(index).to_string()
    })
}
