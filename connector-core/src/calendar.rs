//! The one shape of calendar actions for every connector type that has calendars.
//!
//! `specs/schema/calendar.json` declares the params and the result of each calendar action
//! (`calendars.list`, `events.create`, `freebusy.query`, ...). A connector spec inlines them (so
//! its tool definitions stay self-contained) and [`spec_mismatches`] checks, in each connector's
//! tests, that what it inlined is exactly the shared shape: an agent written against Google
//! Calendar works unchanged against Outlook. Why calendars are entities of the mail connector
//! types: docs/architecture.md, section Calendars.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::spec::ConnectorSpec;

/// Marks a calendar event record (the shared shape) with `untrusted_fields`: its title,
/// description, location and people's names and comments are written by whoever made the
/// event or answered it, often someone outside the organization (an invitation lands in the
/// calendar unasked). Data, never instructions; [`crate::Output::fence_untrusted`] fences
/// them for a model.
pub fn mark_untrusted(record: &mut Value) {
    if let Value::Object(map) = record {
        map.insert(
            "untrusted_fields".into(),
            serde_json::json!(crate::mail::trust::CALENDAR_UNTRUSTED_FIELDS),
        );
    }
}

/// The shared schema, as shipped.
pub const SHARED_SCHEMA_JSON: &str = include_str!("../../specs/schema/calendar.json");

/// The params and result schema of one calendar action, every `$ref` resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedAction {
    pub params: Value,
    pub result: Value,
}

/// Every calendar action by `entity.action`, with `$ref`s into the shared `$defs` inlined.
pub fn shared_actions() -> BTreeMap<String, SharedAction> {
    let doc: Value = serde_json::from_str(SHARED_SCHEMA_JSON).expect("calendar.json parses");
    let defs = &doc["$defs"];
    doc["actions"]
        .as_object()
        .expect("calendar.json has actions")
        .iter()
        .map(|(name, a)| {
            (
                name.clone(),
                SharedAction {
                    params: inline_refs(&a["params"], defs),
                    result: inline_refs(&a["result"], defs),
                },
            )
        })
        .collect()
}

/// `value` with each `{"$ref": "#/$defs/NAME"}` replaced by that definition (recursively;
/// sibling keywords of a `$ref` are kept beside the inlined definition's).
pub fn inline_refs(value: &Value, defs: &Value) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                let mut out = inline_refs(&defs[name], defs);
                if let Value::Object(o) = &mut out {
                    for (k, v) in map.iter().filter(|(k, _)| *k != "$ref") {
                        o.insert(k.clone(), inline_refs(v, defs));
                    }
                }
                return out;
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), inline_refs(v, defs)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline_refs(v, defs)).collect()),
        other => other.clone(),
    }
}

/// Where `spec` departs from the shared calendar shape: a missing action, or params or a result
/// that differ (named by the first differing JSON pointer). Empty when it follows it exactly.
pub fn spec_mismatches(spec: &ConnectorSpec) -> Vec<String> {
    let mut out = Vec::new();
    for (name, shared) in shared_actions() {
        let (entity, action) = name.split_once('.').expect("entity.action");
        let Some(a) = spec.action(entity, action) else {
            out.push(format!("{}: {name} is missing", spec.name));
            continue;
        };
        for (what, mine, theirs) in [
            ("params", &a.params, &shared.params),
            ("result", &a.result, &shared.result),
        ] {
            if let Some(at) = first_difference(mine, theirs, String::new()) {
                out.push(format!(
                    "{}: {name} {what} differ from specs/schema/calendar.json at `{at}`",
                    spec.name
                ));
            }
        }
    }
    out
}

fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_difference(p, q, format!("{at}/{k}")) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{at}/{k}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(if at.is_empty() { "/".into() } else { at }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn has_ref(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.contains_key("$ref") || m.values().any(has_ref),
            Value::Array(a) => a.iter().any(has_ref),
            _ => false,
        }
    }

    #[test]
    fn every_shared_action_resolves_to_schemas_without_refs_that_compile() {
        let actions = shared_actions();
        for name in [
            "calendars.list",
            "calendars.get",
            "events.list",
            "events.get",
            "events.create",
            "events.update",
            "events.delete",
            "events.respond",
            "events.sync",
            "freebusy.query",
        ] {
            let a = actions
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert!(!has_ref(&a.params) && !has_ref(&a.result), "{name}");
            assert_eq!(a.params["additionalProperties"], false, "{name}");
            jsonschema::validator_for(&a.params).unwrap();
            jsonschema::validator_for(&a.result).unwrap();
        }
        let event = &actions["events.get"].result;
        let ok = json!({"id": "e1", "status": "confirmed", "untrusted_fields": ["/summary"],
            "start": {"date_time": "2026-03-30T10:00:00+02:00", "time_zone": "Europe/Berlin"},
            "end": {"date": "2026-03-31"},
            "attendees": [{"email": "ada@example.com", "response_status": "needs_action"}]});
        assert!(jsonschema::is_valid(event, &ok));
        let mut bad = ok.clone();
        bad["attendees"][0]["response_status"] = json!("needsAction");
        assert!(
            !jsonschema::is_valid(event, &bad),
            "wire names are not the shape"
        );
        let mut unmarked = ok.clone();
        unmarked.as_object_mut().unwrap().remove("untrusted_fields");
        assert!(
            !jsonschema::is_valid(event, &unmarked),
            "every event says which of its text is untrusted"
        );
    }

    #[test]
    fn a_difference_is_named_by_its_pointer() {
        let a = json!({"p": {"x": [1, 2]}});
        assert_eq!(first_difference(&a, &a, String::new()), None);
        assert_eq!(
            first_difference(&a, &json!({"p": {"x": [1, 3]}}), String::new()).as_deref(),
            Some("/p/x/1")
        );
        assert_eq!(
            first_difference(&a, &json!({"p": {}}), String::new()).as_deref(),
            Some("/p/x")
        );
    }
}
