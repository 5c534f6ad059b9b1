//! Every action maps to a method of Google's discovery document with the same HTTP method, path
//! and parameter names and types; every discovery method the connector does not use is listed
//! with the reason. This file checks the spec statically (declarative request mappings and the
//! handler table below); `contract_wire.rs` checks the requests the connector really sends.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::contract::{ACTIONS, LEFT_OUT, LOCAL_PARAMS};

fn load(path: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn methods() -> BTreeMap<String, Value> {
    crate::common::contract::all_methods()
        .into_iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m))
        .collect()
}

fn spec() -> Value {
    serde_json::from_str(connector_gmail::SPEC_JSON).unwrap()
}

fn spec_actions(spec: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (e, ent) in spec["entities"].as_object().unwrap() {
        for a in ent["actions"].as_object().unwrap().keys() {
            out.insert(format!("{e}.{a}"));
        }
    }
    out
}

/// The discovery schema of `field` (dotted path) inside the request schema `request`, shaped
/// like a parameter (`type`, `repeated`, `enum`).
fn body_field(request: &str, field: &str) -> Option<Value> {
    let doc = load(if request.starts_with("calendar:") {
        "../tests/contracts/calendar.v3.json"
    } else {
        "../tests/contracts/gmail.v1.json"
    });
    let request = request.trim_start_matches("calendar:");
    let schemas = &doc["schemas"];
    let mut schema = schemas.get(request)?.clone();
    for part in field.split('.') {
        let mut prop = schema["properties"].get(part)?.clone();
        if let Some(r) = prop["$ref"].as_str() {
            prop = schemas[r].clone();
            prop["type"] = Value::from("object");
        }
        schema = prop;
    }
    let mut out = schema.clone();
    if schema["type"] == "array" {
        out = schema["items"].clone();
        out["repeated"] = Value::Bool(true);
    }
    out["location"] = Value::from("body");
    Some(out)
}

/// Is the JSON Schema of a param compatible with a discovery parameter?
fn types_match(schema: &Value, wire: &Value) -> Result<(), String> {
    let wire_type = wire["type"].as_str().unwrap();
    let repeated = wire["repeated"].as_bool().unwrap_or(false);
    let (item, is_array) = match schema["type"].as_str() {
        Some("array") => (&schema["items"], true),
        _ => (schema, false),
    };
    if is_array && !repeated && wire["location"] != "path" {
        return Err(format!("param is an array but {wire} is not repeated"));
    }
    if repeated && !is_array {
        return Err("wire parameter is repeated but the param is not an array".into());
    }
    let item_type = item["type"]
        .as_str()
        .or_else(|| item["enum"].as_array().map(|_| "string"))
        .unwrap_or("");
    if item_type != wire_type {
        return Err(format!("param type {item_type} vs wire type {wire_type}"));
    }
    if let (Some(ours), Some(theirs)) = (item["enum"].as_array(), wire["enum"].as_array()) {
        for v in ours {
            if !theirs.contains(v) {
                return Err(format!(
                    "enum value {v} is not accepted by the wire ({theirs:?})"
                ));
            }
        }
    }
    if let (Some(max), Some(fmt)) = (item["maximum"].as_u64(), wire["format"].as_str()) {
        assert!(fmt.starts_with("uint") || fmt.starts_with("int"), "{fmt}");
        assert!(max <= u32::MAX as u64);
    }
    Ok(())
}

#[test]
fn every_action_maps_to_a_discovery_method_with_matching_params() {
    let spec = spec();
    let methods = methods();
    let actions = spec_actions(&spec);
    let table: BTreeSet<String> = ACTIONS.iter().map(|(a, _, _)| a.to_string()).collect();
    assert_eq!(actions, table, "spec actions and the contract table differ");

    for (action, method_id, mapping) in ACTIONS {
        let (entity, name) = action.split_once('.').unwrap();
        let a = &spec["entities"][entity]["actions"][name];
        let m = methods
            .get(*method_id)
            .unwrap_or_else(|| panic!("{method_id} missing"));
        let props = a["params"]["properties"].as_object().unwrap();
        // Every param is mapped to a wire parameter or is a documented local param.
        for p in props.keys() {
            let mapped = mapping.iter().any(|(ours, _)| ours == p);
            let local = LOCAL_PARAMS
                .iter()
                .any(|(act, lp, _)| act == action && lp == p);
            assert!(
                mapped || local,
                "{action}: param {p} maps to nothing on the wire"
            );
        }
        for (ours, wire) in *mapping {
            let schema = props
                .get(*ours)
                .unwrap_or_else(|| panic!("{action}: no param {ours}"));
            if let Some(field) = wire.strip_prefix("body:") {
                let request = m["request"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{action}: {method_id} takes no request body"));
                let wire_schema = body_field(request, field)
                    .unwrap_or_else(|| panic!("{action}: {request} has no field {field}"));
                types_match(schema, &wire_schema)
                    .unwrap_or_else(|e| panic!("{action}.{ours}: {e}"));
                continue;
            }
            let wire_param = m["parameters"]
                .get(*wire)
                .unwrap_or_else(|| panic!("{action}: {method_id} has no parameter {wire}"));
            types_match(schema, wire_param).unwrap_or_else(|e| panic!("{action}.{ours}: {e}"));
        }
        // Every required wire parameter (except userId = me) is supplied by a param.
        for (wire, p) in m["parameters"].as_object().unwrap() {
            if p["required"] == true && wire != "userId" {
                assert!(
                    mapping.iter().any(|(_, w)| w == wire),
                    "{action}: required {method_id} parameter {wire} is not supplied"
                );
            }
        }
        // Declarative mappings: method, path and query keys as the discovery document says.
        if let Some(req) = a.get("request") {
            assert_eq!(req["method"], m["httpMethod"], "{action}");
            let mut expected_path = m["path"].as_str().unwrap().replace("{userId}", "me");
            for (ours, wire) in *mapping {
                expected_path =
                    expected_path.replace(&format!("{{{wire}}}"), &format!("{{{ours}}}"));
            }
            assert_eq!(req["path"], expected_path.as_str(), "{action}");
            for (param, wire) in req["query"].as_object().into_iter().flatten() {
                assert!(
                    mapping
                        .iter()
                        .any(|(o, w)| o == param && Some(*w) == wire.as_str()),
                    "{action}: query {param}->{wire} is not in the contract table"
                );
                assert_eq!(m["parameters"][wire.as_str().unwrap()]["location"], "query");
            }
            for (param, field) in req["body"].as_object().into_iter().flatten() {
                let want = format!("body:{}", field.as_str().unwrap());
                assert!(
                    mapping.iter().any(|(o, w)| o == param && *w == want),
                    "{action}: body {param}->{field} is not in the contract table"
                );
            }
            for (ours, wire) in *mapping {
                if wire.starts_with("body:") {
                    assert!(
                        req["body"].get(*ours).is_some(),
                        "{action}: {ours} never sent in the body"
                    );
                    continue;
                }
                let loc = m["parameters"][*wire]["location"].as_str().unwrap();
                let sent = match loc {
                    "path" => req["path"].as_str().unwrap().contains('{'),
                    _ => req["query"]
                        .as_object()
                        .is_some_and(|q| q.values().any(|v| v == *wire)),
                };
                assert!(sent, "{action}: {wire} is never sent");
            }
        }
        // Scopes come from the method's own list.
        let accepted: Vec<&str> = m["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for s in a["scopes"].as_array().unwrap() {
            assert!(
                accepted.contains(&s.as_str().unwrap()),
                "{action}: scope {s} not accepted by {method_id}"
            );
        }
        // Only writes that create something new may not be repeated blindly.
        let creates = [
            "messages.send",
            "messages.import",
            "messages.insert",
            "labels.create",
            "drafts.create",
            "drafts.send",
            "filters.create",
            "events.create",
        ];
        assert_eq!(
            a["idempotent"],
            !creates.contains(action),
            "{action}: idempotent must be false exactly for creating actions"
        );
    }
}

#[test]
fn every_discovery_method_is_used_or_left_out_with_a_reason() {
    let methods = methods();
    assert_eq!(methods.len(), 79 + 38);
    let used: BTreeSet<&str> = ACTIONS.iter().map(|(_, m, _)| *m).collect();
    let left: BTreeMap<&str, &str> = LEFT_OUT.iter().copied().collect();
    assert_eq!(left.len(), LEFT_OUT.len(), "duplicate in LEFT_OUT");
    for id in methods.keys() {
        let u = used.contains(id.as_str());
        let l = left.contains_key(id.as_str());
        assert!(u ^ l, "{id}: used={u} left_out={l}; exactly one must hold");
    }
    for id in left.keys().chain(used.iter()) {
        assert!(methods.contains_key(*id), "{id} is not a discovery method");
    }
    assert!(left.values().all(|r| r.len() > 10));
}
