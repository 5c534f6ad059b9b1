//! Request bodies are read like Google reads them: against the method's request schema from the
//! discovery document, unknown field names are refused (`Invalid JSON payload received. Unknown
//! name "x"`), proto field names (`add_label_ids`) are accepted as aliases of the JSON names
//! (`addLabelIds`), and values of the wrong JSON type are refused.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

static DISCOVERY: &str = include_str!("../data/gmail.v1.json");
static METHODS: &str = include_str!("../data/gmail-methods.json");

struct Tables {
    schemas: Map<String, Value>,
    /// method id -> request schema name.
    requests: HashMap<String, String>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let doc: Value = serde_json::from_str(DISCOVERY).expect("gmail.v1.json is valid JSON");
        let methods: Value =
            serde_json::from_str(METHODS).expect("gmail-methods.json is valid JSON");
        let requests = methods["methods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                Some((
                    m["id"].as_str()?.to_string(),
                    m["request"].as_str()?.to_string(),
                ))
            })
            .collect();
        let schemas = doc["schemas"].as_object().cloned().unwrap_or_default();
        Tables { schemas, requests }
    })
}

/// Whether the method takes a request body.
pub(crate) fn has_request_body(method_id: &str) -> bool {
    tables().requests.contains_key(method_id)
}

/// Checks `body` against the method's request schema, renaming proto names to JSON names.
pub(crate) fn normalize(method_id: &str, body: &mut Value) -> ApiResult<()> {
    let t = tables();
    let Some(name) = t.requests.get(method_id) else {
        return Ok(());
    };
    let Some(schema) = t.schemas.get(name) else {
        return Ok(());
    };
    walk(schema, body, "")
}

fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => tables().schemas.get(r).unwrap_or(schema),
        None => schema,
    }
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at '{path}'")
    }
}

fn walk(schema: &Value, v: &mut Value, path: &str) -> ApiResult<()> {
    let schema = resolve(schema);
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let bad_type = |v: &Value| {
        ApiError::invalid_argument(format!(
            "Invalid JSON payload received. Invalid value{} ({ty}): {v}",
            at(path)
        ))
    };
    match v {
        Value::Null => Ok(()),
        Value::Object(map) => {
            if ty != "object" && !ty.is_empty() {
                return Err(bad_type(&Value::Object(map.clone())));
            }
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return Ok(());
            };
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let name = if props.contains_key(&k) {
                    k
                } else {
                    let c = camel(&k);
                    if !props.contains_key(&c) || map.contains_key(&c) {
                        return Err(ApiError::invalid_argument(format!(
                            "Invalid JSON payload received. Unknown name \"{k}\"{}: Cannot find field.",
                            at(path)
                        )));
                    }
                    let val = map.remove(&k).unwrap_or(Value::Null);
                    map.insert(c.clone(), val);
                    c
                };
                let sub = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                if let Some(val) = map.get_mut(&name) {
                    walk(&props[&name], val, &sub)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            if ty != "array" {
                return Err(bad_type(&Value::Array(items.clone())));
            }
            let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
            for (i, item) in items.iter_mut().enumerate() {
                walk(&item_schema, item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::String(s) => match ty {
            "string" => Ok(()),
            "integer" | "number" if s.trim().parse::<f64>().is_ok() => Ok(()),
            _ => Err(bad_type(v)),
        },
        Value::Bool(_) if ty == "boolean" => Ok(()),
        Value::Number(_) if matches!(ty, "integer" | "number") => Ok(()),
        // Proto JSON also reads int64 fields (strings in discovery) from numbers.
        Value::Number(_)
            if ty == "string"
                && matches!(
                    schema.get("format").and_then(Value::as_str),
                    Some("int64" | "uint64")
                ) =>
        {
            Ok(())
        }
        other => Err(bad_type(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_names_fail_and_proto_names_become_json_names() {
        let mut ok = json!({"add_label_ids": ["A"], "removeLabelIds": []});
        normalize("gmail.users.messages.modify", &mut ok).unwrap();
        assert_eq!(ok, json!({"removeLabelIds": [], "addLabelIds": ["A"]}));
        let mut typo = json!({"labelIdz": ["A"]});
        let e = normalize("gmail.users.messages.modify", &mut typo).unwrap_err();
        assert!(
            e.message.contains("Unknown name \"labelIdz\""),
            "{}",
            e.message
        );
        let mut nested = json!({"message": {"raw": "eA", "thread_id": "t", "bogus": 1}});
        let e = normalize("gmail.users.drafts.create", &mut nested).unwrap_err();
        assert!(e.message.contains("at 'message'"), "{}", e.message);
        let mut wrong = json!({"raw": 42});
        assert!(normalize("gmail.users.messages.send", &mut wrong).is_err());
        let mut not_array = json!({"ids": "abc"});
        assert!(normalize("gmail.users.messages.batchDelete", &mut not_array).is_err());
        let mut vacation = json!({"enableAutoReply": true, "startTime": 1800000000000_i64});
        normalize("gmail.users.settings.updateVacation", &mut vacation).unwrap();
        assert!(!has_request_body("gmail.users.messages.trash"));
    }
}
