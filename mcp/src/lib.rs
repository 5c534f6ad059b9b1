//! The connectors as Model Context Protocol tools.
//!
//! This crate holds what MCP adds on top of `execute(entity, action, params)`; it knows nothing
//! of a transport, a server or a provider:
//!
//! * [`tools`]: one tool per action of each spec (annotations from the spec's `effect` and
//!   `idempotent`, `inputSchema` = the params schema, `outputSchema` from the result schema:
//!   its top-level shape by default, the whole of it when asked, see [`OutputSchemas`]), or the
//!   compact set (`list_actions`, `describe_action`, `execute`).
//! * [`budget`]: a list result over the output budget is cut at a record boundary and carries
//!   a page token that resumes exactly after the last record returned.
//! * [`resources`]: attachments are `resource_link`s in results and bytes through
//!   `resources/read`, never base64 in text.
//! * [`errors`]: core's errors as tool errors with the code and the fix hint.
//! * [`handler`]: the rmcp [`ServerHandler`](rmcp::ServerHandler) that serves all of it, for
//!   one fixed [`Session`] (stdio) or a session per HTTP request (streamable HTTP: the server
//!   puts it in the request's extensions, see [`SessionHandle`]).
//!
//! Who may reach which connector, and how a call runs (validation, idempotency keys, policies)
//! is the [`Session`]'s business: the server implements it over its connector service, so MCP,
//! HTTP and Python share one execute path.

// Core's `ConnectorError` is returned once per call; its size does not matter.
#![allow(clippy::result_large_err)]

pub mod budget;
pub mod errors;
pub mod handler;
pub mod http;
pub mod resources;
pub mod tools;

use std::sync::Arc;

use connector_core::{ConnectorError, ConnectorSpec, Output};
use serde_json::Value;

pub use handler::McpHandler;

/// A connector reachable in a session.
#[derive(Debug, Clone)]
pub struct Target {
    /// The connector id (resource URIs name it).
    pub id: String,
    /// The connector type (`gmail`): the tool name prefix.
    pub connector_type: String,
    /// The end user the connector belongs to.
    pub customer_name: String,
    pub spec: Arc<ConnectorSpec>,
}

/// One call of an action, as the session runs it.
#[derive(Debug, Clone)]
pub struct Call {
    pub entity: String,
    pub action: String,
    pub params: Value,
    /// The client's idempotency key (compact `execute`'s argument, or `_meta.idempotency_key`
    /// of `tools/call`).
    pub idempotency_key: Option<String>,
}

/// Which tools a session lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One tool per action.
    #[default]
    Full,
    /// `list_actions`, `describe_action`, `execute`: for clients with small contexts.
    Compact,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "full" => Some(Mode::Full),
            "compact" => Some(Mode::Compact),
            _ => None,
        }
    }
}

/// How much of each action's result schema a full-mode tool's `outputSchema` carries.
///
/// The complete result schemas are most of a full-mode `tools/list` (the calendar's event shape
/// alone is a third of them), so by default a tool carries only the result's top-level shape;
/// a client that wants the rest asks for it (`?output_schemas=full`, `--output-schemas full`)
/// or reads it from compact mode's `describe_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputSchemas {
    /// The result's type; for an object its property names with their types, for an array its
    /// item type. No descriptions, formats, patterns or nested shapes. Structured content
    /// conforms to it as it does to the complete schema.
    #[default]
    Brief,
    /// The action's complete result schema.
    Full,
}

impl OutputSchemas {
    /// The values of the `output_schemas` parameter, as the parameter spells them.
    pub const VALUES: [&'static str; 2] = ["brief", "full"];

    pub fn parse(s: &str) -> Option<OutputSchemas> {
        match s {
            "brief" => Some(OutputSchemas::Brief),
            "full" => Some(OutputSchemas::Full),
            _ => None,
        }
    }
}

/// Default output budget: 40 000 characters of result JSON, about 10 000 tokens.
pub const DEFAULT_MAX_OUTPUT_CHARS: usize = 40_000;
/// The smallest budget a session may set.
pub const MIN_MAX_OUTPUT_CHARS: usize = 500;

/// How a session presents the connectors.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    /// How much of the result schemas full-mode tools carry as `outputSchema`.
    pub output_schemas: OutputSchemas,
    /// Output budget: the most characters of result JSON one tool result carries (at least
    /// one record is always returned).
    pub max_output_chars: usize,
    /// The tools take a `connector` argument (connector id or customer name): the session
    /// reaches several connectors of one type, or may (the server's `/mcp` without a
    /// connector or customer in the URL).
    pub select_by_argument: bool,
    /// Wrap what senders wrote (`subject`, `snippet`, `text` of every message) in fences with
    /// a per-result nonce, so mail cannot pose as instructions (docs/untrusted-content.md).
    /// On by default: MCP results go to a model.
    pub fence_untrusted: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Full,
            output_schemas: OutputSchemas::Brief,
            max_output_chars: DEFAULT_MAX_OUTPUT_CHARS,
            select_by_argument: false,
            fence_untrusted: true,
        }
    }
}

/// What one MCP session may reach and how its calls run.
#[async_trait::async_trait]
pub trait Session: Send + Sync {
    /// The connectors of this session.
    fn targets(&self) -> &[Target];
    fn options(&self) -> &Options;
    /// Runs one action through the same path as every other entry point.
    async fn execute(&self, target: &Target, call: Call) -> Result<Output, ConnectorError>;
}

/// A session, as the streamable HTTP transport hands it to the handler: the server inserts it
/// into the `http::Request`'s extensions, rmcp passes the request parts on to each handler
/// call.
#[derive(Clone)]
pub struct SessionHandle(pub Arc<dyn Session>);

/// Serves `session` over stdin/stdout until the client closes stdin.
pub async fn serve_stdio(session: Arc<dyn Session>) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let running = McpHandler::fixed(session)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
