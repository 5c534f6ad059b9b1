//! The one shape of calendar actions for every connector type that has calendars.
//!
//! `specs/schema/calendar.json` declares the params and the result of each calendar action
//! (`calendars.list`, `events.create`, `freebusy.query`, ...). A connector spec inlines them (so
//! its tool definitions stay self-contained) and [`spec_mismatches`] checks, in each connector's
//! tests, that what it inlined is exactly the shared shape: an agent written against Google
//! Calendar works unchanged against Outlook. Why calendars are entities of the mail connector
//! types: docs/architecture.md, section Calendars.

pub mod params;

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

/// The calendar writes that can make the provider email people: creating or changing an
/// event with attendees (invitations, updates), deleting one (cancellations) and answering one
/// (a reply to the organizer). See [`invitation`].
pub fn may_notify(entity: &str, action: &str) -> bool {
    entity == "events" && ["create", "update", "delete", "respond"].contains(&action)
}

/// The actions of [`may_notify`] that need the event as it is to know whom they notify.
pub fn needs_existing(action: &str) -> bool {
    ["update", "delete", "respond"].contains(&action)
}

/// The mail a calendar write makes the provider send, as a guard judges a send
/// (docs/guardrails.md, "Calendar invitations"): `None` when it notifies nobody. `params` are
/// the shared calendar params; `existing` is the event as `events.get` gives it (for update,
/// delete and respond). `send_updates` is not trusted to make a write silent: Outlook ignores
/// it, and a policy errs on the side of a send.
pub fn invitation(
    action: &str,
    params: &Value,
    existing: Option<&Value>,
) -> Option<crate::guard::Preview> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    // The existing event's attendees other than the account itself: (required, optional).
    let attendees_of = |e: &Value| -> (Vec<String>, Vec<String>) {
        let (mut req, mut opt) = (Vec::new(), Vec::new());
        for a in e["attendees"].as_array().into_iter().flatten() {
            if a["self"] == true {
                continue;
            }
            let Some(email) = a["email"].as_str() else {
                continue;
            };
            if a["optional"] == true {
                opt.push(email.to_string());
            } else {
                req.push(email.to_string());
            }
        }
        (req, opt)
    };
    let text_of = |k: &str| {
        params[k]
            .as_str()
            .or_else(|| existing.and_then(|e| e[k].as_str()))
            .map(str::to_string)
    };
    let when = |k: &str| {
        let t = if params[k].is_object() {
            &params[k]
        } else {
            existing.map_or(&Value::Null, |e| &e[k])
        };
        t["date_time"]
            .as_str()
            .or(t["date"].as_str())
            .map(str::to_string)
    };
    let summary = text_of("summary");
    let body = |head: &str| {
        let mut lines = vec![head.to_string()];
        if let (Some(s), Some(e)) = (when("start"), when("end")) {
            lines.push(format!("When: {s} to {e}"));
        }
        if let Some(l) = text_of("location") {
            lines.push(format!("Where: {l}"));
        }
        if let Some(d) = text_of("description") {
            lines.push(String::new());
            lines.push(d);
        }
        lines.join("\n")
    };
    let preview = |to: Vec<String>, cc: Vec<String>, subject: Option<String>, text: String| {
        (!(to.is_empty() && cc.is_empty())).then(|| crate::guard::Preview {
            to,
            cc,
            subject,
            text,
            note: Some("a calendar invitation: the provider emails it to these people".into()),
            ..Default::default()
        })
    };
    match action {
        "create" => preview(
            strings(&params["attendees"]),
            strings(&params["optional_attendees"]),
            summary,
            body("Invitation"),
        ),
        "update" => {
            let (old_req, old_opt) = existing.map(attendees_of).unwrap_or_default();
            let req = match params.get("attendees") {
                Some(v) => strings(v),
                None => old_req,
            };
            let opt = match params.get("optional_attendees") {
                Some(v) => strings(v),
                None => old_opt,
            };
            preview(req, opt, summary, body("Updated invitation"))
        }
        "delete" => {
            let e = existing?;
            if e["organizer"]["self"] == false {
                // Removing someone else's event from this calendar tells nobody.
                return None;
            }
            let (req, opt) = attendees_of(e);
            preview(
                req,
                opt,
                Some(format!("Cancelled: {}", summary.unwrap_or_default())),
                body("Cancelled"),
            )
        }
        "respond" => {
            if params["send_response"] == false {
                return None;
            }
            let organizer = existing?["organizer"].clone();
            if organizer["self"] == true {
                return None;
            }
            let to = organizer["email"].as_str()?.to_string();
            let answer = params["response"].as_str().unwrap_or("answer");
            let mut text = format!("Answer: {answer}");
            if let Some(c) = params["comment"].as_str() {
                text.push_str(&format!("\n\n{c}"));
            }
            preview(
                vec![to],
                Vec::new(),
                Some(format!("{answer}: {}", summary.unwrap_or_default())),
                text,
            )
        }
        _ => None,
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

    #[test]
    fn calendar_writes_that_email_people_are_previewed_as_sends() {
        let when = json!({"date_time": "2026-06-01T14:00:00", "time_zone": "Europe/Berlin"});
        let made = invitation(
            "create",
            &json!({"summary": "Plan", "attendees": ["Grace <grace@x.example>"],
                "optional_attendees": ["bob@x.example"], "start": when, "end": when,
                "send_updates": "none"}),
            None,
        )
        .expect("attendees are emailed (send_updates is not trusted to silence it)");
        assert_eq!(made.recipients(), ["grace@x.example", "bob@x.example"]);
        assert_eq!(made.subject.as_deref(), Some("Plan"));
        assert!(
            made.text.contains("When: 2026-06-01T14:00:00"),
            "{}",
            made.text
        );
        assert!(invitation("create", &json!({"summary": "Focus"}), None).is_none());

        let existing = json!({"summary": "Plan", "organizer": {"email": "me@x.example", "self": true},
            "attendees": [{"email": "me@x.example", "self": true, "response_status": "accepted"},
                          {"email": "grace@x.example", "response_status": "needs_action"}]});
        let moved = invitation(
            "update",
            &json!({"event_id": "e", "start": when}),
            Some(&existing),
        )
        .expect("the existing attendees hear of the move");
        assert_eq!(
            moved.recipients(),
            ["grace@x.example"],
            "not the account itself"
        );
        let cleared = invitation(
            "update",
            &json!({"event_id": "e", "attendees": []}),
            Some(&json!({})),
        );
        assert!(cleared.is_none());
        let gone = invitation("delete", &json!({"event_id": "e"}), Some(&existing)).unwrap();
        assert_eq!(gone.subject.as_deref(), Some("Cancelled: Plan"));
        let theirs = json!({"summary": "Their", "organizer": {"email": "o@y.example", "self": false},
            "attendees": [{"email": "me@x.example", "self": true, "response_status": "needs_action"}]});
        assert!(invitation("delete", &json!({"event_id": "e"}), Some(&theirs)).is_none());
        let answer = invitation(
            "respond",
            &json!({"event_id": "e", "response": "decline", "comment": "busy"}),
            Some(&theirs),
        )
        .expect("the organizer is told");
        assert_eq!(answer.recipients(), ["o@y.example"]);
        assert!(invitation(
            "respond",
            &json!({"event_id": "e", "response": "accept", "send_response": false}),
            Some(&theirs)
        )
        .is_none());
        assert!(may_notify("events", "create") && !may_notify("events", "list"));
    }

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
