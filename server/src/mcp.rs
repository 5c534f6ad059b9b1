//! MCP over the server's connector service: the [`Session`] both transports use, and
//! `connectors mcp` (stdio).
//!
//! A session is an organization and the connectors it may reach; its calls go through
//! [`crate::services::Executions::execute`], the service behind `POST .../execute`, so
//! validation, idempotency keys and policies apply to MCP exactly as to HTTP (and, through the
//! same core call, to Python).

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;
use api_types::ExecuteRequest;
use clap::Args;
use connector_core::{ConnectorError, ErrorCode, Output};
use connectors_mcp::{Call, Mode, Options, OutputSchemas, Session, Target};
use serde_json::{Map, Value};

use crate::config::ServeArgs;
use crate::services::connectors::{NewConnectorInput, Origin};
use crate::services::idempotency::Answer;
use crate::store::{ConnectorFilter, ConnectorRow};
use crate::AppState;

/// Which connectors of the organization a session reaches.
pub enum Scope {
    /// One connector, by id.
    Connector(String),
    /// The connectors of one customer.
    Customer(String),
    /// Every connector of the organization; tools take a `connector` argument.
    Organization,
}

/// An organization's connectors as an MCP session.
pub struct ServerSession {
    state: web::Data<AppState>,
    organization_id: String,
    targets: Vec<Target>,
    options: Options,
}

impl ServerSession {
    /// The session of `scope` in the organization (a connector id of another organization is
    /// `not_found`, as on the execute route).
    pub async fn open(
        state: web::Data<AppState>,
        organization_id: &str,
        scope: Scope,
        mut options: Options,
    ) -> Result<ServerSession, ConnectorError> {
        let connectors = &state.services.connectors;
        let rows = match &scope {
            // As on the execute route: the row from the connector cache (`connector_cache`).
            Scope::Connector(id) => vec![connectors.get_cached(organization_id, id).await?],
            Scope::Customer(_) | Scope::Organization => {
                let filter = ConnectorFilter {
                    customer_name: match &scope {
                        Scope::Customer(name) => Some(name.clone()),
                        _ => None,
                    },
                    connector_type: None,
                    definition_id: None,
                    limit: 1000,
                    offset: 0,
                };
                let rows = connectors.list(organization_id, &filter).await?;
                if rows.is_empty() {
                    if let Scope::Customer(name) = &scope {
                        return Err(ConnectorError::not_found(format!(
                            "no connector of customer {name:?} in your organization"
                        )));
                    }
                }
                rows
            }
        };
        options.select_by_argument |= matches!(scope, Scope::Organization);
        let targets = rows.iter().filter_map(|row| target(&state, row)).collect();
        Ok(ServerSession {
            state: state.clone(),
            organization_id: organization_id.to_string(),
            targets,
            options,
        })
    }
}

fn target(state: &AppState, row: &ConnectorRow) -> Option<Target> {
    let kind = state.registry.get(&row.connector_type)?;
    Some(Target {
        id: row.id.clone(),
        connector_type: row.connector_type.clone(),
        customer_name: row.customer_name.clone(),
        spec: kind.spec.clone(),
    })
}

#[async_trait::async_trait]
impl Session for ServerSession {
    fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn options(&self) -> &Options {
        &self.options
    }

    async fn execute(&self, target: &Target, call: Call) -> Result<Output, ConnectorError> {
        let req = ExecuteRequest {
            entity: call.entity,
            action: call.action,
            params: call.params,
            idempotency_key: call.idempotency_key,
        };
        let answer = self
            .state
            .services
            .executions
            .execute(&self.organization_id, &target.id, req)
            .await?;
        match answer {
            Answer::Fresh(response) => Ok(Output {
                result: response.result,
                metadata: metadata(response.connector_metadata),
            }),
            Answer::Replayed {
                status: 200,
                mut body,
            } => {
                let mut metadata = metadata(body["connector_metadata"].take());
                metadata.insert("idempotent_replayed".into(), Value::Bool(true));
                Ok(Output {
                    result: body["result"].take(),
                    metadata,
                })
            }
            Answer::Replayed { body, .. } => Err(stored_error(&body)),
        }
    }
}

fn metadata(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A stored error answer (`{"error": {code, message, details}}`) as the error it was.
fn stored_error(body: &Value) -> ConnectorError {
    let e = &body["error"];
    let code = e["code"]
        .as_str()
        .and_then(ErrorCode::parse)
        .unwrap_or(ErrorCode::Internal);
    ConnectorError::new(code, e["message"].as_str().unwrap_or_default())
        .with_details(e["details"].clone())
}

/// `connectors mcp`: one connector over MCP on stdin/stdout, for desktop clients.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The connector type.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(
        providers::all().iter().map(|p| p.name)
    ))]
    pub connector_type: String,
    /// Run against the built-in emulator with the demo mailbox (no credentials, no network).
    #[arg(long, conflicts_with = "credentials")]
    pub sandbox: bool,
    /// The connector's credentials as a JSON object (the fields of the type's auth schema,
    /// e.g. `{"refresh_token": "...", "client_id": "...", "client_secret": "..."}` or
    /// `{"access_token": "..."}`).
    #[arg(
        long,
        env = "CONNECTORS_MCP_CREDENTIALS",
        hide_env_values = true,
        required_unless_present = "sandbox"
    )]
    pub credentials: Option<String>,
    /// The provider's API root (default: the type's; e.g. a `connectors sandbox` emulator).
    #[arg(long)]
    pub base_url: Option<String>,
    /// The provider's token endpoint (default: the type's).
    #[arg(long)]
    pub token_url: Option<String>,
    /// Compact mode: three tools (list_actions, describe_action, execute) instead of one per
    /// action, for clients with small contexts.
    #[arg(long)]
    pub compact: bool,
    /// Full mode's `outputSchema` per tool: `brief`, the result's top-level shape (its type
    /// and, for an object, its property names with their types), or `full`, the action's
    /// complete result schema.
    #[arg(long, value_name = "brief|full", default_value = "brief",
        value_parser = clap::builder::PossibleValuesParser::new(OutputSchemas::VALUES))]
    pub output_schemas: String,
    /// Output budget: the most characters of result JSON in one tool result; longer lists are
    /// cut at a record boundary with a page token.
    #[arg(long, default_value_t = connectors_mcp::DEFAULT_MAX_OUTPUT_CHARS as u64,
        value_parser = clap::value_parser!(u64).range(connectors_mcp::MIN_MAX_OUTPUT_CHARS as u64..))]
    pub max_output_chars: u64,
    /// Data directory (database, key file; refreshed tokens are kept there). Default: a fresh
    /// temporary directory, removed on exit.
    #[arg(long, env = "CONNECTORS_MCP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Serves one connector on stdio until the client closes stdin.
pub async fn stdio(args: McpArgs) -> anyhow::Result<()> {
    let (data_dir, temporary) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("connectors-mcp-{}", uuid::Uuid::new_v4())),
            true,
        ),
    };
    let result = serve_stdio(&args, data_dir.clone()).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

async fn serve_stdio(args: &McpArgs, data_dir: PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data_dir)?;
    let config = crate::Config::resolve(ServeArgs {
        data_dir: Some(data_dir),
        ..Default::default()
    })?;
    let state = web::Data::new(AppState::new(config).await?);
    let kind = state
        .registry
        .get(&args.connector_type)
        .ok_or_else(|| anyhow::anyhow!("unknown connector type {}", args.connector_type))?;
    let _emulators;
    let (org, connector_id) = if args.sandbox {
        _emulators = crate::sandbox::start_emulators(true)?;
        let file = crate::sandbox::setup(&state, &_emulators).await?;
        let id = file.connectors[kind.name.as_str()]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the sandbox has no {} connector", kind.name))?
            .to_string();
        (file.organization_id, id)
    } else {
        let text = args.credentials.as_deref().unwrap_or("{}");
        let value: Value = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("--credentials is not a JSON object: {e}"))?;
        let credentials =
            crate::credentials::validate(&kind.spec.auth, &value, kind.refresh_rule())
                .map_err(|e| anyhow::anyhow!("--credentials: {}", e.message))?;
        let org = state.store.create_org("mcp-stdio").await?;
        let row = state
            .services
            .connectors
            .create(
                &org.id,
                kind,
                NewConnectorInput {
                    customer_name: "local".into(),
                    name: None,
                    replication_config: None,
                    credentials,
                    base_url: args.base_url.clone(),
                    token_url: args.token_url.clone(),
                },
                Origin::Api,
            )
            .await?;
        (org.id, row.id)
    };
    let options = Options {
        mode: if args.compact {
            Mode::Compact
        } else {
            Mode::Full
        },
        output_schemas: OutputSchemas::parse(&args.output_schemas).unwrap_or_default(),
        max_output_chars: args.max_output_chars as usize,
        select_by_argument: false,
        fence_untrusted: true,
    };
    let session =
        ServerSession::open(state.clone(), &org, Scope::Connector(connector_id), options).await?;
    tracing::info!(connector_type = %kind.name, sandbox = args.sandbox, "serving MCP on stdio");
    connectors_mcp::serve_stdio(Arc::new(session)).await?;
    state.store.close().await;
    Ok(())
}
