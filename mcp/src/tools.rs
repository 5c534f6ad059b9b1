//! Tool definitions from the specs.
//!
//! **Full mode**: one tool per action of each connector type in the session, named
//! `<type>_<entity>_<action>` (`gmail_messages_list`):
//! - `inputSchema` is the action's params schema (`$schema`/`$id` dropped); when the session
//!   selects connectors by argument it gains one property, `connector`;
//! - `outputSchema` is `{result, metadata}` with `result` the action's result schema (an
//!   attachment's `content_base64` becomes `resource_uri`, see [`crate::resources`]): by
//!   default only its top-level shape ([`brief_schema`]), the whole of it with
//!   [`OutputSchemas::Full`];
//! - `annotations` come from the spec: `readOnlyHint` = `effect` is `read`,
//!   `destructiveHint` = `effect` is `update` or `delete`, `idempotentHint` = `idempotent`,
//!   `openWorldHint` = true (every action reaches the provider's mailbox, whose content comes
//!   from and goes to the outside world). An action without a declared `effect` gets MCP's
//!   cautious defaults (not read-only, destructive).
//!
//! **Compact mode**: three tools whatever the number of actions: `list_actions`,
//! `describe_action` and `execute`.

use std::fmt::Write as _;

use connector_core::spec::{ActionSpec, ConnectorSpec};
use connector_core::tools::{is_tool_name, starts_with_tool_name, tool_name};
use serde_json::{json, Map, Value};

use crate::{Mode, OutputSchemas, Session, Target};

/// The argument that picks a connector (by id or customer name) when the session asks for it.
pub const CONNECTOR_ARG: &str = "connector";
pub const LIST_ACTIONS: &str = "list_actions";
pub const DESCRIBE_ACTION: &str = "describe_action";
pub const EXECUTE: &str = "execute";

/// One action of one connector type.
#[derive(Clone, Copy)]
pub struct ActionRef<'a> {
    pub connector_type: &'a str,
    pub spec: &'a ConnectorSpec,
    pub entity: &'a str,
    pub action: &'a str,
    pub def: &'a ActionSpec,
}

impl ActionRef<'_> {
    pub fn tool_name(&self) -> String {
        tool_name(&[self.connector_type, self.entity, self.action])
    }

    /// Whether `name` is this action's [`ActionRef::tool_name`] (compared without building it).
    pub fn is_named(&self, name: &str) -> bool {
        is_tool_name(&[self.connector_type, self.entity, self.action], name)
    }
}

/// The first target of each connector type, in session order.
pub fn types(targets: &[Target]) -> Vec<&Target> {
    let mut out: Vec<&Target> = Vec::new();
    for t in targets {
        if !out.iter().any(|o| o.connector_type == t.connector_type) {
            out.push(t);
        }
    }
    out
}

/// Every action of every connector type of the session.
pub fn actions(targets: &[Target]) -> Vec<ActionRef<'_>> {
    let mut out = Vec::new();
    for t in types(targets) {
        for (entity, e) in &t.spec.entities {
            for (action, def) in &e.actions {
                out.push(ActionRef {
                    connector_type: &t.connector_type,
                    spec: &t.spec,
                    entity,
                    action,
                    def,
                });
            }
        }
    }
    out
}

/// The action a full-mode tool name stands for: the first of [`actions`] whose
/// [`ActionRef::tool_name`] it is. Every call looks its tool up here, so an entity is passed
/// over whole when the name does not start with its prefix (`gmail_messages_`), instead of
/// comparing the name with every action's.
pub fn find_tool<'a>(targets: &'a [Target], name: &str) -> Option<ActionRef<'a>> {
    for t in types(targets) {
        for (entity, e) in &t.spec.entities {
            // The prefix every tool name of the entity starts with (`gmail_messages_`), cut at
            // 64 as the whole name is: a name cut inside the prefix still matches it.
            if !starts_with_tool_name(&[&t.connector_type, entity, ""], name) {
                continue;
            }
            for (action, def) in &e.actions {
                let a = ActionRef {
                    connector_type: &t.connector_type,
                    spec: &t.spec,
                    entity,
                    action,
                    def,
                };
                if a.is_named(name) {
                    return Some(a);
                }
            }
        }
    }
    None
}

/// The action `entity.action` of a connector type.
pub fn find_action<'a>(
    targets: &'a [Target],
    connector_type: &str,
    entity: &str,
    action: &str,
) -> Option<ActionRef<'a>> {
    actions(targets)
        .into_iter()
        .find(|a| a.connector_type == connector_type && a.entity == entity && a.action == action)
}

/// Whether the tools need the `connector` argument.
pub fn selects_by_argument(session: &dyn Session) -> bool {
    let targets = session.targets();
    session.options().select_by_argument || types(targets).len() < targets.len()
}

/// The `tools/list` answer of a session (as JSON tool objects).
pub fn list(session: &dyn Session) -> Vec<Value> {
    let select = selects_by_argument(session);
    let options = session.options();
    match options.mode {
        Mode::Full => actions(session.targets())
            .iter()
            .map(|a| action_tool(a, select, options.output_schemas))
            .collect(),
        Mode::Compact => compact_tools(session.targets(), select),
    }
}

/// The MCP annotations of an action, from its spec.
pub fn annotations(def: &ActionSpec) -> Value {
    let (read_only, destructive) = match def.effect {
        Some(e) => (e.is_read_only(), e.is_destructive()),
        None => (false, true),
    };
    json!({
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": def.idempotent,
        "openWorldHint": true,
    })
}

/// One full-mode tool.
pub fn action_tool(a: &ActionRef<'_>, select: bool, output: OutputSchemas) -> Value {
    let mut description = a.def.description.trim().to_string();
    if let Some(p) = &a.def.pagination {
        let _ = write!(
            description,
            "\n\nPaging: when `metadata.{}` is returned, call again with the same arguments plus `{}` set to it; stop when it is absent.",
            p.next_token_metadata, p.token_param
        );
    }
    if crate::resources::has_content(&a.def.result) {
        description.push_str(
            "\n\nOver MCP the bytes are not in the result: `result.resource_uri` names them; read that resource (resources/read).",
        );
    }
    if !a.def.idempotent {
        description.push_str(
            "\n\nNot idempotent: never retried automatically; after outcome_unknown check before calling again (or pass _meta.idempotency_key).",
        );
    }
    json!({
        "name": a.tool_name(),
        "description": description,
        "inputSchema": input_schema(&a.def.params, select),
        "outputSchema": output_schema(&a.def.result, output),
        "annotations": annotations(a.def),
    })
}

/// The params schema as a tool's `inputSchema`.
pub fn input_schema(params: &Value, select: bool) -> Value {
    let mut schema = strip_meta(params);
    let Some(o) = schema.as_object_mut() else {
        return schema;
    };
    o.entry("type").or_insert_with(|| json!("object"));
    let props = o
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if select {
        if let Some(p) = props.as_object_mut() {
            p.insert(CONNECTOR_ARG.into(), connector_arg_schema());
        }
        let req = o.entry("required").or_insert_with(|| json!([]));
        if let Some(r) = req.as_array_mut() {
            r.push(json!(CONNECTOR_ARG));
        }
    }
    schema
}

fn connector_arg_schema() -> Value {
    json!({"type": "string", "minLength": 1,
        "description": "Which connector: its id, or the customer name it belongs to."})
}

/// `{result, metadata}` with `result` the action's result schema, whole or brief.
pub fn output_schema(result: &Value, output: OutputSchemas) -> Value {
    let result = crate::resources::result_schema(&strip_meta(result));
    let (result, metadata) = match output {
        OutputSchemas::Full => (
            result,
            json!({"type": "object", "description": "Paging (`next_page_token`), counts, and `truncated` when the output budget cut the result."}),
        ),
        OutputSchemas::Brief => (brief_schema(&result), json!({"type": "object"})),
    };
    json!({
        "type": "object",
        "properties": {"result": result, "metadata": metadata},
        "required": ["result", "metadata"]
    })
}

/// The top-level shape of a result schema: its type; for an object its property names, each
/// with its type only; for an array its item type. Everything a value satisfies in `schema` it
/// satisfies here (the types of `const`, `enum`, `oneOf` and `anyOf` are read from their values
/// and branches; a part whose type cannot be read is left open, `{}`).
pub fn brief_schema(schema: &Value) -> Value {
    let types = json_types(schema);
    let mut out = type_only(types.as_deref());
    let has = |t: &str| types.as_ref().is_some_and(|ts| ts.iter().any(|x| x == t));
    if has("object") {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let brief: Map<String, Value> = props
                .iter()
                .map(|(k, v)| (k.clone(), type_only(json_types(v).as_deref())))
                .collect();
            out["properties"] = Value::Object(brief);
        }
    }
    if has("array") {
        if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
            out["items"] = type_only(json_types(items).as_deref());
        }
    }
    out
}

/// `{"type": ...}` for the types given, `{}` when they are unknown.
fn type_only(types: Option<&[String]>) -> Value {
    match types {
        Some([one]) => json!({"type": one}),
        Some(many) if !many.is_empty() => json!({"type": many}),
        _ => json!({}),
    }
}

/// The JSON types a schema admits, when its top level says (`type`, or the values of `const`
/// and `enum`, or the union over every branch of `oneOf` / `anyOf`).
fn json_types(schema: &Value) -> Option<Vec<String>> {
    fn push(out: &mut Vec<String>, t: &str) {
        if !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    }
    let o = schema.as_object()?;
    if let Some(t) = o.get("type") {
        return match t {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_string)).collect(),
            _ => None,
        };
    }
    if let Some(c) = o.get("const") {
        return Some(vec![type_of(c).to_string()]);
    }
    if let Some(values) = o.get("enum").and_then(Value::as_array) {
        let mut out = Vec::new();
        for v in values {
            push(&mut out, type_of(v));
        }
        return Some(out);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = o.get(key).and_then(Value::as_array) {
            let mut out = Vec::new();
            for b in branches {
                for t in json_types(b)? {
                    push(&mut out, &t);
                }
            }
            return Some(out);
        }
    }
    None
}

/// The JSON Schema type of a value (`integer` for whole numbers).
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn strip_meta(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        o.remove("$id");
    }
    schema
}

/// The three compact tools.
pub fn compact_tools(targets: &[Target], select: bool) -> Vec<Value> {
    let type_names: Vec<&str> = types(targets)
        .iter()
        .map(|t| t.connector_type.as_str())
        .collect();
    let type_prop = json!({"type": "string", "enum": type_names,
        "description": "The connector type; may be omitted when the session has one."});
    let mut execute_props = json!({
        "connector_type": type_prop,
        "entity": {"type": "string", "description": "Entity, from list_actions."},
        "action": {"type": "string", "description": "Action of that entity, from list_actions."},
        "params": {"type": "object", "description": "The action's params, as describe_action shows them (unknown params are rejected)."},
        "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 255,
            "description": "For actions that are not idempotent (send, create): a retry with the same key returns the first result instead of acting twice."},
    });
    let mut execute_required = vec![json!("entity"), json!("action")];
    if select {
        execute_props[CONNECTOR_ARG] = connector_arg_schema();
        execute_required.push(json!(CONNECTOR_ARG));
    }
    vec![
        json!({
            "name": LIST_ACTIONS,
            "description": "Lists every action this server can run: connector type, entity, action, whether it only reads, and a one-line summary. Call describe_action for the params of one.",
            "inputSchema": {"type": "object", "properties": {"connector_type": type_prop}, "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false},
        }),
        json!({
            "name": DESCRIBE_ACTION,
            "description": "Describes one action: what it does, its params (JSON Schema), its result, paging, and its annotations (read-only, destructive, idempotent).",
            "inputSchema": {"type": "object", "properties": {
                "connector_type": type_prop,
                "entity": {"type": "string"}, "action": {"type": "string"}},
                "required": ["entity", "action"], "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false},
        }),
        json!({
            "name": EXECUTE,
            "description": "Runs one action with its params and returns {result, metadata}. Check describe_action first: actions may send mail or delete data. Results over the output budget are cut at a record boundary with metadata.next_page_token to continue.",
            "inputSchema": {"type": "object", "properties": execute_props,
                "required": execute_required, "additionalProperties": false},
            "annotations": {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": true},
        }),
    ]
}

/// The first sentence of a description.
fn summary(description: &str) -> String {
    let line: String = description.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.find(". ") {
        Some(i) => line[..=i].to_string(),
        None => line,
    }
}

/// `list_actions`'s answer.
pub fn list_actions(targets: &[Target], connector_type: Option<&str>) -> Value {
    let actions: Vec<Value> = actions(targets)
        .iter()
        .filter(|a| connector_type.is_none_or(|t| t == a.connector_type))
        .map(|a| {
            json!({
                "connector_type": a.connector_type,
                "entity": a.entity,
                "action": a.action,
                "read_only": a.def.effect.is_some_and(|e| e.is_read_only()),
                "summary": summary(&a.def.description),
            })
        })
        .collect();
    let connectors: Vec<Value> = targets
        .iter()
        .map(|t| json!({"connector_id": t.id, "connector_type": t.connector_type, "customer_name": t.customer_name}))
        .collect();
    json!({"connectors": connectors, "actions": actions})
}

/// `describe_action`'s answer.
pub fn describe(a: &ActionRef<'_>) -> Value {
    let mut out = json!({
        "connector_type": a.connector_type,
        "entity": a.entity,
        "action": a.action,
        "description": a.def.description.trim(),
        "params": strip_meta(&a.def.params),
        "result": crate::resources::result_schema(&strip_meta(&a.def.result)),
        "annotations": annotations(a.def),
    });
    if let Some(p) = &a.def.pagination {
        out["paging"] = json!({"token_param": p.token_param, "size_param": p.size_param,
            "next_token": format!("metadata.{}", p.next_token_metadata)});
    }
    if let Some(g) = &a.spec.pagination_guidance {
        out["pagination_guidance"] = json!(g);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::spec::Effect;
    use std::sync::Arc;

    fn action(effect: Option<Effect>, idempotent: bool) -> ActionSpec {
        let mut a: ActionSpec = serde_json::from_value(json!({
            "description": "Does it. More words.", "params": {"type": "object",
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "properties": {"x": {"type": "string"}}, "additionalProperties": false},
            "result": {"type": "array"}, "handler": "h", "idempotent": idempotent
        }))
        .unwrap();
        a.effect = effect;
        a
    }

    #[test]
    fn annotations_follow_the_effect_and_idempotence() {
        let read = annotations(&action(Some(Effect::Read), true));
        assert_eq!(read["readOnlyHint"], true);
        assert_eq!(read["destructiveHint"], false);
        let send = annotations(&action(Some(Effect::Create), false));
        assert_eq!(send["readOnlyHint"], false);
        assert_eq!(send["destructiveHint"], false);
        assert_eq!(send["idempotentHint"], false);
        let delete = annotations(&action(Some(Effect::Delete), true));
        assert_eq!(delete["destructiveHint"], true);
        assert_eq!(delete["idempotentHint"], true);
        let undeclared = annotations(&action(None, true));
        assert_eq!(undeclared["readOnlyHint"], false);
        assert_eq!(undeclared["destructiveHint"], true);
    }

    #[test]
    fn input_schema_is_the_params_schema_plus_the_selector_when_asked() {
        let a = action(Some(Effect::Read), true);
        let plain = input_schema(&a.params, false);
        assert!(plain.get("$schema").is_none());
        let mut expected = a.params.clone();
        expected.as_object_mut().unwrap().remove("$schema");
        assert_eq!(plain, expected);
        let select = input_schema(&a.params, true);
        assert_eq!(select["required"], json!(["connector"]));
        assert_eq!(select["properties"]["connector"]["type"], "string");
    }

    #[test]
    fn output_schema_wraps_the_result_schema() {
        let result = json!({"type": "array", "description": "Records.",
            "items": {"type": "object", "properties": {"id": {"type": "string"}}}});
        for output in [OutputSchemas::Brief, OutputSchemas::Full] {
            let s = output_schema(&result, output);
            assert_eq!(s["type"], "object");
            assert_eq!(s["properties"]["result"]["type"], "array");
            assert_eq!(s["required"], json!(["result", "metadata"]));
        }
        assert_eq!(
            output_schema(&result, OutputSchemas::Full)["properties"]["result"],
            result
        );
        assert_eq!(
            output_schema(&result, OutputSchemas::Brief)["properties"]["result"],
            json!({"type": "array", "items": {"type": "object"}})
        );
    }

    #[test]
    fn a_brief_schema_keeps_the_top_level_shape_and_nothing_else() {
        let record = json!({"type": "object", "required": ["id"], "additionalProperties": false,
            "properties": {
                "id": {"type": "string", "description": "The id.", "minLength": 1},
                "subject": {"type": ["string", "null"], "description": "Subject."},
                "date": {"type": "string", "format": "date-time"},
                "ok": {"const": true},
                "status": {"enum": ["a", "b", null]},
                "from": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                "owner": {"anyOf": [{"$ref": "#/$defs/x"}, {"type": "null"}]},
                "labels": {"type": "array", "items": {"type": "string", "pattern": "^L"}},
                "start": {"type": "object", "properties": {"date_time": {"type": "string"}}}}});
        assert_eq!(
            brief_schema(&record),
            json!({"type": "object", "properties": {
                "id": {"type": "string"},
                "subject": {"type": ["string", "null"]},
                "date": {"type": "string"},
                "ok": {"type": "boolean"},
                "status": {"type": ["string", "null"]},
                "from": {"type": ["string", "null"]},
                "owner": {},
                "labels": {"type": "array"},
                "start": {"type": "object"}}})
        );
        let list = json!({"type": "array", "items": {"oneOf": [record, {"type": "object"}]}});
        assert_eq!(
            brief_schema(&list),
            json!({"type": "array", "items": {"type": "object"}})
        );
        assert_eq!(brief_schema(&json!({"$ref": "#/$defs/x"})), json!({}));
    }

    /// `find_tool` (which skips entities by prefix) finds exactly what the plain search over
    /// every action finds: for every tool name of both specs, for names cut at 64 characters
    /// and names with characters the tool names replace, and for names that are no tool.
    #[test]
    fn find_tool_agrees_with_the_search_over_every_action() {
        let spec = |text: &str| {
            Arc::new(connector_core::spec::ConnectorSpec::from_json(text).expect("spec parses"))
        };
        let mut odd = (*spec(include_str!("../../specs/gmail.json"))).clone();
        let messages = odd.entities["messages"].clone();
        // A long entity (every name of it cut at 64) and one the names rewrite (`.` -> `_`).
        odd.entities.insert("x".repeat(70), messages.clone());
        odd.entities.insert("mail.box-é".into(), messages.clone());
        odd.entities.insert("mail_box-_".into(), messages);
        let target = |id: &str, ty: &str, spec| Target {
            id: id.into(),
            connector_type: ty.into(),
            customer_name: "c".into(),
            spec,
        };
        let targets = vec![
            target("c1", "gmail", spec(include_str!("../../specs/gmail.json"))),
            target(
                "c2",
                "outlook",
                spec(include_str!("../../specs/outlook.json")),
            ),
            target("c3", "odd", Arc::new(odd)),
        ];
        let every = actions(&targets);
        let key = |a: &ActionRef<'_>| {
            (
                a.connector_type.to_string(),
                a.entity.to_string(),
                a.action.to_string(),
            )
        };
        let mut names: Vec<String> = every.iter().map(ActionRef::tool_name).collect();
        names.extend(
            [
                "",
                "gmail",
                "gmail_",
                "gmail_messages_",
                "gmail_messages_gets",
                "outlook_nothing_get",
                "odd_mail_box",
            ]
            .map(String::from),
        );
        names.push(format!("odd_{}", "x".repeat(59)));
        names.push(format!("odd_{}", "x".repeat(60)));
        let mut found = 0;
        for name in &names {
            let plain = every.iter().find(|a| a.is_named(name)).map(key);
            assert_eq!(
                find_tool(&targets, name).as_ref().map(key),
                plain,
                "{name:?}"
            );
            found += usize::from(plain.is_some());
        }
        // Every action's name names one action, the cut and rewritten ones included.
        assert!(found >= every.len(), "{found} of {}", every.len());
        assert!(find_tool(&targets, &format!("odd_{}", "x".repeat(60))).is_some());
        assert!(find_tool(&targets, "odd_mail_box-__get").is_some());
    }

    #[test]
    fn summary_is_the_first_sentence() {
        assert_eq!(summary("Does it.  More words."), "Does it.");
        assert_eq!(summary("One line"), "One line");
    }
}
