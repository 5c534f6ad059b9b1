//! Tool definitions from a spec: the single `execute(entity, action, params)` tool with a text
//! catalogue, and one typed tool per action in OpenAI, Anthropic and MCP formats.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::spec::{ActionSpec, ConnectorSpec};

/// The tool format agents expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolFormat {
    /// `{"type": "function", "function": {name, description, parameters}}`.
    OpenAi,
    /// `{name, description, input_schema}`.
    Anthropic,
    /// `{name, description, inputSchema}`.
    Mcp,
}

impl ToolFormat {
    pub const ALL: [ToolFormat; 3] = [ToolFormat::OpenAi, ToolFormat::Anthropic, ToolFormat::Mcp];

    /// `openai`, `anthropic` or `mcp`.
    pub fn parse(name: &str) -> Option<ToolFormat> {
        match name.to_ascii_lowercase().as_str() {
            "openai" | "open_ai" => Some(ToolFormat::OpenAi),
            "anthropic" | "claude" => Some(ToolFormat::Anthropic),
            "mcp" => Some(ToolFormat::Mcp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ToolFormat::OpenAi => "openai",
            ToolFormat::Anthropic => "anthropic",
            ToolFormat::Mcp => "mcp",
        }
    }

    fn render(self, name: String, description: String, schema: Value) -> Value {
        match self {
            ToolFormat::OpenAi => json!({"type": "function", "function": {
                "name": name, "description": description, "parameters": schema}}),
            ToolFormat::Anthropic => {
                json!({"name": name, "description": description, "input_schema": schema})
            }
            ToolFormat::Mcp => {
                json!({"name": name, "description": description, "inputSchema": schema})
            }
        }
    }
}

/// A tool name from parts: only `[A-Za-z0-9_-]`, at most 64 characters.
pub fn tool_name(parts: &[&str]) -> String {
    tool_name_chars(parts).collect()
}

/// Whether `name` is [`tool_name`]`(parts)`, compared without building it (a tool call looks
/// its tool up among every action's name).
pub fn is_tool_name(parts: &[&str], name: &str) -> bool {
    // The built name is ASCII: its length in bytes is its length in characters, known before
    // any character is compared (most names differ in length).
    let chars: usize = parts.iter().map(|p| p.chars().count()).sum();
    let len = (chars + parts.len().saturating_sub(1)).min(64);
    len == name.len() && starts_with_tool_name(parts, name)
}

/// Whether `name` starts with [`tool_name`]`(parts)`, compared without building it.
pub fn starts_with_tool_name(parts: &[&str], name: &str) -> bool {
    let mut name = name.bytes();
    // The built name is ASCII: one byte per character.
    tool_name_chars(parts).all(|c| name.next() == Some(c as u8))
}

/// The parts joined by `_`, every other character than `[A-Za-z0-9_-]` as `_` (so the name
/// is ASCII), cut at 64.
fn tool_name_chars<'a>(parts: &'a [&'a str]) -> impl Iterator<Item = char> + 'a {
    parts
        .iter()
        .enumerate()
        .flat_map(|(i, p)| (i > 0).then_some('_').into_iter().chain(p.chars()))
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
}

/// The single tool: `{name, description, input_schema}` (Anthropic shape; the name is
/// `<connector>_execute`). Its description is the [`catalogue`].
pub fn execute_tool(spec: &ConnectorSpec) -> Value {
    let entities: Vec<&String> = spec.entities.keys().collect();
    let mut actions: Vec<&String> = spec
        .entities
        .values()
        .flat_map(|e| e.actions.keys())
        .collect();
    actions.sort();
    actions.dedup();
    json!({
        "name": tool_name(&[&spec.name, "execute"]),
        "description": catalogue(spec),
        "input_schema": {
            "type": "object",
            "properties": {
                "entity": {"type": "string", "enum": entities,
                    "description": "The entity to act on (see the list in the description)."},
                "action": {"type": "string", "enum": actions,
                    "description": "The action of that entity."},
                "params": {"type": "object",
                    "description": "The action's params, exactly as listed in the description (unknown params are rejected)."}
            },
            "required": ["entity", "action", "params"],
            "additionalProperties": false
        }
    })
}

/// The single tool in any [`ToolFormat`] (same name, description and input schema as
/// [`execute_tool`]).
pub fn execute_tool_as(spec: &ConnectorSpec, format: ToolFormat) -> Value {
    let mut tool = execute_tool(spec);
    let take = |key: &str, tool: &mut Value| tool.get_mut(key).map(Value::take).unwrap_or_default();
    let name = take("name", &mut tool)
        .as_str()
        .unwrap_or_default()
        .to_string();
    let description = take("description", &mut tool)
        .as_str()
        .unwrap_or_default()
        .to_string();
    let schema = take("input_schema", &mut tool);
    format.render(name, description, schema)
}

/// One typed tool per action (`messages_list`), its input schema the action's params schema.
pub fn action_tools(spec: &ConnectorSpec, format: ToolFormat) -> Vec<Value> {
    let mut out = Vec::new();
    for (entity, e) in &spec.entities {
        for (action, a) in &e.actions {
            let mut description = a.description.trim().to_string();
            if let Some(p) = paging_line(a) {
                let _ = write!(description, "\n\nPaging: {p}");
            }
            out.push(format.render(
                tool_name(&[entity, action]),
                description,
                tool_schema(&a.params),
            ));
        }
    }
    out
}

/// A params schema as tools carry it (without `$schema`/`$id`, which some agents refuse).
fn tool_schema(params: &Value) -> Value {
    let mut schema = params.clone();
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        o.remove("$id");
        o.entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    schema
}

fn paging_line(a: &ActionSpec) -> Option<String> {
    let p = a.pagination.as_ref()?;
    let mut s = format!(
        "when `metadata.{}` is returned, call again with the same params plus `{}` set to it; stop when it is absent.",
        p.next_token_metadata, p.token_param
    );
    if let Some(size) = &p.size_param {
        let _ = write!(s, " `{size}` sets the page size.");
    }
    Some(s)
}

/// A param's type in words: `string`, `integer 1..500`, `array of string`, `one of "a", "b"`.
fn type_words(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let vs: Vec<String> = values.iter().map(Value::to_string).collect();
        return format!("one of {}", vs.join(", "));
    }
    if let Some(c) = schema.get("const") {
        return format!("exactly {c}");
    }
    let mut t = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => {
            for key in ["oneOf", "anyOf"] {
                if let Some(alts) = schema.get(key).and_then(Value::as_array) {
                    let words: Vec<String> = alts.iter().map(type_words).collect();
                    return words.join(" or ");
                }
            }
            "any".to_string()
        }
    };
    if t == "array" {
        if let Some(items) = schema.get("items") {
            t = format!("array of {}", type_words(items));
        }
    }
    if t == "object" {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let fields: Vec<String> = props
                .keys()
                .map(|k| {
                    let mark = if required.contains(&k.as_str()) {
                        "*"
                    } else {
                        ""
                    };
                    format!("{k}{mark}")
                })
                .collect();
            if !fields.is_empty() {
                t = format!("object {{{}}}", fields.join(", "));
            }
        }
    }
    let (min, max) = (schema.get("minimum"), schema.get("maximum"));
    match (min, max) {
        (Some(a), Some(b)) => {
            let _ = write!(t, " {a}..{b}");
        }
        (Some(a), None) => {
            let _ = write!(t, " >= {a}");
        }
        (None, Some(b)) => {
            let _ = write!(t, " <= {b}");
        }
        _ => {}
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(t, " ({f})");
    }
    t
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text catalogue an LLM reads: entities, actions, params with types and required marks,
/// and how paging works.
pub fn catalogue(spec: &ConnectorSpec) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} connector (spec {}): {}",
        spec.name,
        spec.version,
        one_line(&spec.description)
    );
    let _ = writeln!(
        s,
        "\nCall execute(entity, action, params) with params as a JSON object. Param names are snake_case; \
         unknown params are rejected; `*` marks a required param. Results come back as \
         {{result, metadata}}: a list action's result is an array of records and its paging token is in metadata."
    );
    if let Some(g) = &spec.pagination_guidance {
        let _ = writeln!(s, "\nPagination: {}", one_line(g));
    }
    let _ = writeln!(s, "\nEntities and actions:");
    for (entity, e) in &spec.entities {
        let _ = writeln!(s, "\n## {entity}: {}", one_line(&e.description));
        for (action, a) in &e.actions {
            let _ = writeln!(s, "- {entity}.{action}: {}", one_line(&a.description));
            let required: Vec<&str> = a
                .params
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let props = a.params.get("properties").and_then(Value::as_object);
            match props {
                Some(props) if !props.is_empty() => {
                    let _ = writeln!(s, "  params:");
                    for (name, p) in props {
                        let mark = if required.contains(&name.as_str()) {
                            "*"
                        } else {
                            ""
                        };
                        let desc = p
                            .get("description")
                            .and_then(Value::as_str)
                            .map(|d| format!(": {}", one_line(d)))
                            .unwrap_or_default();
                        let _ = writeln!(s, "    - {name}{mark} ({}){desc}", type_words(p));
                    }
                }
                _ => {
                    let _ = writeln!(s, "  params: none");
                }
            }
            if let Some(p) = paging_line(a) {
                let _ = writeln!(s, "  paging: {p}");
            }
            if !a.idempotent {
                let _ = writeln!(
                    s,
                    "  not idempotent: never retried automatically; after outcome_unknown check before calling again."
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ConnectorSpec {
        serde_json::from_value(json!({
            "name": "demo", "version": "1.0.0", "description": "A demo.",
            "auth": {"fields": {"access_token": {"description": "token", "secret": true}}},
            "pagination_guidance": "Pass metadata.next_page_token back as page_token.",
            "entities": {"messages": {"description": "Mail messages.", "actions": {
                "list": {
                    "description": "Lists messages.",
                    "params": {"type": "object", "additionalProperties": false,
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "properties": {
                            "max_results": {"type": "integer", "minimum": 1, "maximum": 500, "description": "Page size."},
                            "page_token": {"type": "string"},
                            "label_ids": {"type": "array", "items": {"type": "string"}}
                        }},
                    "result": {"type": "array"},
                    "request": {"method": "GET", "path": "/m"},
                    "idempotent": true,
                    "pagination": {"token_param": "page_token", "size_param": "max_results", "next_token_metadata": "next_page_token"}
                },
                "send": {
                    "description": "Sends a message.",
                    "params": {"type": "object", "additionalProperties": false, "required": ["to"],
                        "properties": {"to": {"type": "array", "items": {"type": "string"}},
                            "attachments": {"type": "array", "items": {"type": "object",
                                "required": ["filename"],
                                "properties": {"filename": {"type": "string"}, "content_base64": {"type": "string"}}}}}},
                    "result": {"type": "object"},
                    "handler": "send",
                    "idempotent": false
                }
            }}}
        }))
        .unwrap()
    }

    #[test]
    fn catalogue_lists_params_types_required_and_paging() {
        let c = catalogue(&spec());
        assert!(c.contains("- messages.list: Lists messages."), "{c}");
        assert!(
            c.contains("- max_results (integer 1..500): Page size."),
            "{c}"
        );
        assert!(c.contains("- label_ids (array of string)"), "{c}");
        assert!(c.contains("- to* (array of string)"), "{c}");
        assert!(c.contains("Pagination: Pass metadata.next_page_token back as page_token."));
        assert!(c.contains("`page_token` set to it"), "{c}");
        assert!(c.contains("`max_results` sets the page size"), "{c}");
        assert!(c.contains("not idempotent"), "{c}");
        assert!(
            c.contains("- attachments (array of object {filename*, content_base64})"),
            "{c}"
        );
    }

    #[test]
    fn execute_tool_has_entity_action_params() {
        let t = execute_tool(&spec());
        assert_eq!(t["name"], "demo_execute");
        assert_eq!(
            t["input_schema"]["properties"]["entity"]["enum"],
            json!(["messages"])
        );
        assert_eq!(
            t["input_schema"]["properties"]["action"]["enum"],
            json!(["list", "send"])
        );
        assert_eq!(t["description"], json!(catalogue(&spec())));
        let openai = execute_tool_as(&spec(), ToolFormat::OpenAi);
        assert_eq!(openai["function"]["name"], "demo_execute");
        assert_eq!(openai["function"]["parameters"], t["input_schema"]);
        let mcp = execute_tool_as(&spec(), ToolFormat::Mcp);
        assert_eq!(mcp["inputSchema"], t["input_schema"]);
        assert_eq!(mcp["description"], t["description"]);
    }

    #[test]
    fn one_tool_per_action_in_each_format() {
        let s = spec();
        let openai = action_tools(&s, ToolFormat::OpenAi);
        assert_eq!(openai.len(), 2);
        assert_eq!(openai[0]["type"], "function");
        assert_eq!(openai[0]["function"]["name"], "messages_list");
        assert!(openai[0]["function"]["parameters"].get("$schema").is_none());
        assert_eq!(
            openai[0]["function"]["parameters"]["properties"]["max_results"]["maximum"],
            500
        );
        assert!(openai[0]["function"]["description"]
            .as_str()
            .unwrap()
            .contains("Paging:"));
        let anthropic = action_tools(&s, ToolFormat::Anthropic);
        assert_eq!(anthropic[1]["name"], "messages_send");
        assert_eq!(anthropic[1]["input_schema"]["required"], json!(["to"]));
        let mcp = action_tools(&s, ToolFormat::Mcp);
        assert_eq!(mcp[1]["inputSchema"]["required"], json!(["to"]));
        for f in ToolFormat::ALL {
            assert_eq!(ToolFormat::parse(f.as_str()), Some(f));
        }
    }

    #[test]
    fn tool_names_use_the_valid_charset() {
        assert_eq!(tool_name(&["send as", "list.all"]), "send_as_list_all");
        assert_eq!(tool_name(&[&"x".repeat(80)]).len(), 64);
        assert_eq!(tool_name(&["gmail", "été", "list"]), "gmail__t__list");
    }

    #[test]
    fn is_tool_name_matches_exactly_the_built_name() {
        let long = "y".repeat(70);
        for parts in [
            vec!["gmail", "messages", "get"],
            vec!["send as", "list.all"],
            vec!["gmail", "été", "list"],
            vec!["x", long.as_str()],
        ] {
            let name = tool_name(&parts);
            assert!(is_tool_name(&parts, &name), "{parts:?}");
            assert!(!is_tool_name(&parts, &name[..name.len() - 1]), "a prefix");
            assert!(!is_tool_name(&parts, &format!("{name}x")), "a longer name");
            assert!(starts_with_tool_name(&parts, &name), "{parts:?}");
            assert!(
                starts_with_tool_name(&parts, &format!("{name}x")),
                "a longer name"
            );
            assert!(
                !starts_with_tool_name(&parts, &name[..name.len() - 1]),
                "a prefix"
            );
        }
        assert!(!starts_with_tool_name(
            &["gmail", "messages", ""],
            "gmail_message_get"
        ));
        assert!(starts_with_tool_name(
            &["gmail", "été", ""],
            "gmail__t__list"
        ));
        assert!(!is_tool_name(
            &["gmail", "messages", "get"],
            "gmail_messages_list"
        ));
        assert!(!is_tool_name(
            &["gmail", "messages", "get"],
            "gmail_messages.get"
        ));
    }
}
