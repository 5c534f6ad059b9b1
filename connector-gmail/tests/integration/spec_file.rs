//! specs/gmail.json is a valid connector spec: it parses into the core model, passes the
//! meta-schema, every params schema is strict JSON Schema 2020-12, and every example is valid.

use connector_core::ConnectorSpec;
use serde_json::Value;

fn spec_json() -> Value {
    serde_json::from_str(connector_gmail::SPEC_JSON).unwrap()
}

#[test]
fn spec_parses_and_passes_the_meta_schema() {
    let spec = ConnectorSpec::from_json(connector_gmail::SPEC_JSON).expect("spec parses");
    assert_eq!(spec.name, "gmail");
    let meta = ConnectorSpec::meta_schema();
    let validator = jsonschema::validator_for(&meta).expect("meta-schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&spec_json())
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn params_are_strict_and_examples_valid() {
    let spec = spec_json();
    let mut actions = 0;
    for (entity, e) in spec["entities"].as_object().unwrap() {
        for (name, a) in e["actions"].as_object().unwrap() {
            actions += 1;
            let key = format!("{entity}.{name}");
            let params = &a["params"];
            assert_eq!(
                params["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{key}"
            );
            assert_eq!(params["additionalProperties"], false, "{key}");
            for p in params["properties"].as_object().unwrap().keys() {
                assert!(
                    p.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{key}: param {p} is not snake_case"
                );
            }
            let v = jsonschema::validator_for(params).unwrap_or_else(|e| panic!("{key}: {e}"));
            jsonschema::validator_for(&a["result"]).unwrap_or_else(|e| panic!("{key} result: {e}"));
            let examples = a["examples"].as_array().unwrap();
            assert!(!examples.is_empty(), "{key}: no example");
            for ex in examples {
                assert!(
                    v.is_valid(&ex["params"]),
                    "{key}: example {} is invalid",
                    ex["description"]
                );
            }
            assert!(
                a["description"].as_str().unwrap().len() > 40,
                "{key}: describe what it does and when to use it"
            );
            assert!(
                !a["scopes"].as_array().unwrap().is_empty(),
                "{key}: no scopes"
            );
            // Typos are errors: an unknown param fails validation.
            let mut bad = examples[0]["params"].clone();
            bad["no_such_param"] = Value::Bool(true);
            assert!(!v.is_valid(&bad), "{key}: unknown params must be rejected");
        }
    }
    assert_eq!(actions, 54);
}

#[test]
fn the_scope_sets_cover_their_actions() {
    let spec = spec_json();
    for (entity, e) in spec["entities"].as_object().unwrap() {
        for (name, a) in e["actions"].as_object().unwrap() {
            let scopes: Vec<&str> = a["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            assert!(
                connector_gmail::SCOPES_FULL
                    .iter()
                    .any(|s| scopes.contains(s)),
                "{entity}.{name}: SCOPES_FULL grants none of {scopes:?}"
            );
            let reading = a["request"]["method"] == "GET"
                || matches!(a["handler"].as_str(), Some(h) if h.ends_with("_get") || h.ends_with("_list") || h.ends_with("_get_many"));
            if reading {
                assert!(
                    connector_gmail::SCOPES_READONLY
                        .iter()
                        .any(|s| scopes.contains(s)),
                    "{entity}.{name}: SCOPES_READONLY grants none of {scopes:?}"
                );
            }
        }
    }
}

#[test]
fn every_action_runs_in_some_end_to_end_test() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    let mut sources = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("e2e_") && name.ends_with(".rs") {
            sources.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    let compact: String = sources.chars().filter(|c| !c.is_whitespace()).collect();
    let spec = spec_json();
    let mut missing = Vec::new();
    for (entity, e) in spec["entities"].as_object().unwrap() {
        for name in e["actions"].as_object().unwrap().keys() {
            if !compact.contains(&format!("\"{entity}\",\"{name}\"")) {
                missing.push(format!("{entity}.{name}"));
            }
        }
    }
    assert!(missing.is_empty(), "no e2e test runs {missing:?}");
}

#[test]
fn typed_params_default_to_what_the_spec_declares() {
    let spec = connector_gmail::spec();
    let mut handlers = connector_gmail::handlers::all(&connector_gmail::GmailOptions::default());
    handlers.extend(connector_gmail::calendar::handlers());
    let typed = handlers
        .iter()
        .filter(|(_, h)| h.typed_params(serde_json::json!({})).is_some())
        .count();
    assert_eq!(
        typed,
        handlers.len(),
        "every Gmail handler has typed params"
    );
    let disagreements = connector_core::params::default_disagreements(spec.spec(), &handlers);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn the_calendar_actions_take_the_shape_shared_with_outlook() {
    let mismatches = connector_core::calendar::spec_mismatches(connector_gmail::spec().spec());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
