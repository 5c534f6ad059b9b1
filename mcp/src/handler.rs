//! The rmcp server handler: `tools/list`, `tools/call`, `resources/read` and
//! `resources/templates/list` over a [`Session`].
//!
//! Protocol versions are rmcp's: every revision it knows, 2025-11-25 (with `initialize`) and
//! 2026-07-28 (stateless, `server/discover`) included.

use std::sync::Arc;

use connector_core::{ConnectorError, ErrorCode, Output};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, InitializeResult,
    ListResourceTemplatesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{json, Map, Value};

use crate::tools::{self, ActionRef, CONNECTOR_ARG};
use crate::{budget, errors, resources, Call, Mode, Session, SessionHandle, Target};

/// The `_meta` key of `tools/call` that carries an idempotency key in full mode.
pub const IDEMPOTENCY_META: &str = "idempotency_key";

/// Serves the connectors of one fixed session (stdio), or of the session each HTTP request
/// carries in its extensions ([`SessionHandle`]).
#[derive(Clone, Default)]
pub struct McpHandler {
    fixed: Option<Arc<dyn Session>>,
}

impl McpHandler {
    /// One session for the whole connection (stdio).
    pub fn fixed(session: Arc<dyn Session>) -> McpHandler {
        McpHandler {
            fixed: Some(session),
        }
    }

    /// The session comes with each request (streamable HTTP).
    pub fn per_request() -> McpHandler {
        McpHandler { fixed: None }
    }

    fn session(&self, ctx: &RequestContext<RoleServer>) -> Result<Arc<dyn Session>, McpError> {
        if let Some(s) = &self.fixed {
            return Ok(s.clone());
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<SessionHandle>())
            .map(|h| h.0.clone())
            .ok_or_else(|| McpError::internal_error("no session for this request", None))
    }
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, McpError> {
    serde_json::from_value(v).map_err(|e| McpError::internal_error(e.to_string(), None))
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> InitializeResult {
        from_json(json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}, "resources": {}},
            "serverInfo": {"name": "agent-connectors", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Mail connectors (Gmail, Outlook). Each tool runs one action of a connector and returns {result, metadata}. \
                Read-only tools are annotated readOnlyHint; tools that send or delete are not. \
                Large lists are cut at a record boundary: pass metadata.next_page_token back as page_token. \
                Attachments are resource links: read them with resources/read.",
        }))
        .expect("the server info parses")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let session = self.session(&context)?;
        from_json(json!({"tools": tools::list(session.as_ref()), "resultType": "complete"}))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let session = self.session(&context)?;
        // rmcp may lift `_meta` out of the params into the request context.
        let meta_key = request
            .meta
            .as_ref()
            .and_then(|m| m.0 .0.get(IDEMPOTENCY_META))
            .or_else(|| context.meta.0 .0.get(IDEMPOTENCY_META))
            .and_then(Value::as_str)
            .map(str::to_string);
        call_tool(session.as_ref(), &request.name, request.arguments, meta_key)
            .await
            .map(Into::into)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        from_json(json!({"resultType": "complete", "resourceTemplates": [{
            "uriTemplate": resources::TEMPLATE,
            "name": "attachment",
            "description": "The bytes of one attachment of a message; tool results link the attachments they mention.",
        }]}))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let session = self.session(&context)?;
        match resources::read(session.as_ref(), &request.uri).await {
            Ok(mut v) => {
                v["resultType"] = json!("complete");
                let r: ReadResourceResult = from_json(v)?;
                Ok(r.into())
            }
            Err(e) if e.code == ErrorCode::NotFound => Err(McpError::resource_not_found(
                e.message.clone(),
                Some(json!({"uri": request.uri, "code": e.code.as_str()})),
            )),
            Err(e) => Err(McpError::internal_error(
                format!("{}: {} {}", e.code.as_str(), e.message, e.code.hint()),
                Some(json!({"uri": request.uri, "code": e.code.as_str()})),
            )),
        }
    }
}

/// `tools/call` of the tool `name` with `arguments` on `session` (and the idempotency key of
/// the call's `_meta`, if any): what [`McpHandler::call_tool`] answers, also for the direct
/// path of `crate::http` that does not go through rmcp's service.
pub(crate) async fn call_tool(
    session: &dyn Session,
    name: &str,
    arguments: Option<Map<String, Value>>,
    meta_key: Option<String>,
) -> Result<CallToolResult, McpError> {
    let args = Value::Object(arguments.unwrap_or_default());
    match session.options().mode {
        Mode::Full => {
            let Some(action) = tools::find_tool(session.targets(), name) else {
                return Err(unknown_tool(name));
            };
            let mut params = args;
            let selector = take_selector(&mut params);
            run(session, action, selector, params, meta_key).await
        }
        Mode::Compact => compact(session, name, args, meta_key).await?,
    }
}

fn unknown_tool(name: &str) -> McpError {
    McpError::invalid_params(
        format!("unknown tool `{name}`: call tools/list for the tools of this server"),
        None,
    )
}

/// Removes the `connector` argument from the params (it is not an action param).
fn take_selector(params: &mut Value) -> Option<String> {
    params
        .as_object_mut()
        .and_then(|o| o.remove(CONNECTOR_ARG))
        .and_then(|v| v.as_str().map(str::to_string))
}

/// The connector of type `connector_type` that a call is for.
pub fn pick<'a>(
    targets: &'a [Target],
    connector_type: &str,
    selector: Option<&str>,
) -> Result<&'a Target, ConnectorError> {
    let candidates: Vec<&Target> = targets
        .iter()
        .filter(|t| t.connector_type == connector_type)
        .collect();
    let Some(sel) = selector else {
        return match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err(ConnectorError::not_found(format!(
                "no {connector_type} connector in this session"
            ))),
            _ => Err(ConnectorError::invalid_field(
                "/connector",
                "several connectors of this type are reachable: give `connector` (an id or a customer name)",
            )),
        };
    };
    if let Some(t) = candidates.iter().find(|t| t.id == sel) {
        return Ok(t);
    }
    let by_customer: Vec<&&Target> = candidates
        .iter()
        .filter(|t| t.customer_name == sel)
        .collect();
    match by_customer.as_slice() {
        [one] => Ok(one),
        [] => Err(ConnectorError::not_found(format!(
            "no {connector_type} connector with id or customer name {sel:?} in this session"
        ))),
        _ => Err(ConnectorError::invalid_field(
            "/connector",
            "this customer has several connectors of this type: give the connector id",
        )),
    }
}

/// Runs one action and renders the tool result (or the tool error).
async fn run(
    session: &dyn Session,
    action: ActionRef<'_>,
    selector: Option<String>,
    mut params: Value,
    idempotency_key: Option<String>,
) -> Result<CallToolResult, McpError> {
    let outcome = async {
        let target = pick(
            session.targets(),
            action.connector_type,
            selector.as_deref(),
        )?;
        let resume = budget::unwrap_params(action.def, &mut params)?;
        let mut out = session
            .execute(
                target,
                Call {
                    entity: action.entity.to_string(),
                    action: action.action.to_string(),
                    params,
                    idempotency_key,
                },
            )
            .await?;
        if session.options().fence_untrusted {
            out = out.fence_untrusted();
        }
        let measured = budget::apply(
            action.def,
            &mut out,
            &resume,
            session.options().max_output_chars,
        );
        let links = resources::link_attachments(target, &mut out.result);
        // The budget's JSON of the result is still the result's unless a link replaced content.
        let result_json = measured.filter(|_| links.is_empty());
        Ok::<_, ConnectorError>((out, result_json, links))
    }
    .await;
    match outcome {
        Ok((out, result_json, links)) => action_result(out, result_json, links),
        Err(e) => tool_error(&e),
    }
}

/// An action's tool result: `structuredContent` is `{result, metadata}`. `result_json`, when
/// given, is `out.result` already serialized (by the output budget): the text is then put
/// together around it instead of serializing the result a second time.
fn action_result(
    out: Output,
    result_json: Option<String>,
    links: Vec<Value>,
) -> Result<CallToolResult, McpError> {
    // Moved in, not through `json!` (which serializes every value it is given into a copy).
    let mut both = Map::with_capacity(2);
    both.insert("result".into(), out.result);
    both.insert("metadata".into(), Value::Object(out.metadata));
    let value = Value::Object(both);
    let text = match result_json {
        Some(result) => {
            let metadata = serde_json::to_string(&value["metadata"]).map_err(unserializable)?;
            let mut text = String::with_capacity(result.len() + metadata.len() + 24);
            for piece in ["{\"result\":", &result, ",\"metadata\":", &metadata, "}"] {
                text.push_str(piece);
            }
            text
        }
        None => serde_json::to_string(&value).map_err(unserializable)?,
    };
    tool_result(value, text, links)
}

/// A successful tool result of `value` (a compact tool's answer).
fn structured(value: Value, links: Vec<Value>) -> Result<CallToolResult, McpError> {
    let text = serde_json::to_string(&value).map_err(unserializable)?;
    tool_result(value, text, links)
}

/// `structuredContent`, the same JSON as text (`text`, which is `value` serialized), then
/// `links`. Built as rmcp's type directly (a large result is not rebuilt node by node from a
/// `Value`). The text is made with `serde_json::to_string`, not `Value`'s `Display` (the same
/// JSON through `fmt::Write`, about twice the instructions on a full message).
///
/// `crate::http`'s direct path writes `structuredContent` by copying `text`: the two must stay
/// the same JSON (checked there in debug builds).
fn tool_result(value: Value, text: String, links: Vec<Value>) -> Result<CallToolResult, McpError> {
    let mut content = Vec::with_capacity(1 + links.len());
    content.push(ContentBlock::text(text));
    for link in links {
        content.push(from_json(link)?);
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(value);
    Ok(result)
}

fn unserializable(e: serde_json::Error) -> McpError {
    McpError::internal_error(format!("the result could not be serialized: {e}"), None)
}

/// A tool error ([`errors::tool_error`]) as rmcp's type.
fn tool_error(e: &ConnectorError) -> Result<CallToolResult, McpError> {
    let mut v = errors::tool_error(e);
    v["resultType"] = json!("complete");
    from_json(v)
}

/// The compact tools.
async fn compact(
    session: &dyn Session,
    name: &str,
    args: Value,
    meta_key: Option<String>,
) -> Result<Result<CallToolResult, McpError>, McpError> {
    let targets = session.targets();
    let str_arg = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_string);
    let connector_type = || -> Result<String, ConnectorError> {
        if let Some(t) = str_arg("connector_type") {
            return Ok(t);
        }
        match tools::types(targets).as_slice() {
            [one] => Ok(one.connector_type.clone()),
            _ => Err(ConnectorError::invalid_field(
                "/connector_type",
                "this session has several connector types: give `connector_type`",
            )),
        }
    };
    let find = || -> Result<ActionRef<'_>, ConnectorError> {
        let ty = connector_type()?;
        let (entity, action) = (
            str_arg("entity").unwrap_or_default(),
            str_arg("action").unwrap_or_default(),
        );
        tools::find_action(targets, &ty, &entity, &action).ok_or_else(|| {
            ConnectorError::new(
                ErrorCode::UnknownAction,
                format!("no action {entity}.{action} for {ty}: see list_actions"),
            )
        })
    };
    Ok(match name {
        tools::LIST_ACTIONS => structured(
            tools::list_actions(targets, str_arg("connector_type").as_deref()),
            Vec::new(),
        ),
        tools::DESCRIBE_ACTION => match find() {
            Ok(a) => structured(tools::describe(&a), Vec::new()),
            Err(e) => tool_error(&e),
        },
        tools::EXECUTE => match find() {
            Ok(a) => {
                let params = match args.get("params") {
                    None | Some(Value::Null) => Value::Object(Map::new()),
                    Some(p) => p.clone(),
                };
                let key = str_arg("idempotency_key").or(meta_key);
                run(session, a, str_arg(CONNECTOR_ARG), params, key).await
            }
            Err(e) => tool_error(&e),
        },
        other => return Err(unknown_tool(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_and_structured(r: CallToolResult) -> (String, Value) {
        let v = serde_json::to_value(r).unwrap();
        (
            v["content"][0]["text"].as_str().unwrap().to_string(),
            v["structuredContent"].clone(),
        )
    }

    /// The text block is exactly `structuredContent` serialized, whether the result's JSON
    /// came from the budget or not.
    #[test]
    fn the_text_block_is_the_structured_content_as_json() {
        let result = json!({"id": "m1", "subject": "Tschüß \"quoted\"", "to": [{"email": "a@x"}],
            "size": 12, "nothing": null});
        let mut metadata = Map::new();
        metadata.insert("fence_nonce".into(), json!("abc"));
        metadata.insert("over_budget".into(), json!({"chars": 9}));
        for given in [true, false] {
            let out = Output {
                result: result.clone(),
                metadata: metadata.clone(),
            };
            let json = given.then(|| serde_json::to_string(&result).unwrap());
            let (text, structured) = text_and_structured(action_result(out, json, vec![]).unwrap());
            assert_eq!(structured, json!({"result": result, "metadata": metadata}));
            assert_eq!(
                text,
                serde_json::to_string(&structured).unwrap(),
                "given: {given}"
            );
        }
    }
}
