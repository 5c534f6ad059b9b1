//! specs/outlook.json: parses into the spec model, passes the meta-schema, and every action is
//! written for agents (described params, no unknown params, examples that validate).

use connector_core::ConnectorSpec;
use serde_json::Value;

fn spec_value() -> Value {
    serde_json::from_str(connector_outlook::SPEC_JSON).expect("spec is JSON")
}

#[test]
fn spec_parses_and_passes_the_meta_schema() {
    let spec = ConnectorSpec::from_json(connector_outlook::SPEC_JSON).expect("spec parses");
    assert_eq!(spec.name, "outlook");
    let meta = ConnectorSpec::meta_schema();
    let validator = jsonschema::validator_for(&meta).expect("meta-schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&spec_value())
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn every_action_is_described_strict_and_exemplified() {
    let spec = ConnectorSpec::from_json(connector_outlook::SPEC_JSON).unwrap();
    let shared = connector_core::calendar::shared_actions();
    let mut actions = 0;
    for (entity, e) in &spec.entities {
        for (name, a) in &e.actions {
            actions += 1;
            let at = format!("{entity}.{name}");
            assert!(
                a.description.len() > 60,
                "{at}: description too thin for an LLM"
            );
            assert_eq!(a.params["type"], "object", "{at}");
            assert_eq!(a.params["additionalProperties"], false, "{at}");
            for (p, schema) in a.params["properties"].as_object().unwrap() {
                assert!(
                    p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{at}.{p}: snake_case"
                );
                // calendar params are the shared shape's, word for word (checked below)
                assert!(
                    shared.contains_key(&at)
                        || schema["description"].as_str().is_some_and(|d| d.len() > 10),
                    "{at}.{p}: description"
                );
            }
            assert!(!a.scopes.is_empty(), "{at}: scopes");
            if ["get", "list", "get_many", "delta"].contains(&name.as_str()) {
                assert!(a.idempotent, "{at}: reading is safe to retry");
            }
            if [
                "send",
                "reply",
                "reply_all",
                "forward",
                "send_draft",
                "create_draft",
            ]
            .contains(&name.as_str())
            {
                assert!(!a.idempotent, "{at}: sending is never retried blindly");
            }
            let v = jsonschema::validator_for(&a.params).unwrap_or_else(|e| panic!("{at}: {e}"));
            jsonschema::validator_for(&a.result).unwrap_or_else(|e| panic!("{at} result: {e}"));
            assert!(!a.examples.is_empty(), "{at}: examples");
            for ex in &a.examples {
                assert!(
                    v.is_valid(&ex.params),
                    "{at}: example {:?} does not validate",
                    ex.description
                );
            }
            let typo = serde_json::json!({"mesage_id": "x"});
            assert!(
                !v.is_valid(&typo),
                "{at}: a misspelled param must be refused"
            );
        }
    }
    assert_eq!(actions, 45);
}

#[test]
fn calendar_actions_follow_the_shared_shape_exactly() {
    let spec = ConnectorSpec::from_json(connector_outlook::SPEC_JSON).unwrap();
    let mismatches = connector_core::calendar::spec_mismatches(&spec);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    // and the check bites: a renamed param is a mismatch
    let mut changed = spec.clone();
    let events = changed.entities.get_mut("events").unwrap();
    let list = events.actions.get_mut("list").unwrap();
    let props = list.params["properties"].as_object_mut().unwrap();
    let v = props.remove("time_min").unwrap();
    props.insert("start_after".into(), v);
    assert!(!connector_core::calendar::spec_mismatches(&changed).is_empty());
}

#[test]
fn auth_accepts_an_access_token_or_a_refresh_token_with_tenant() {
    let spec = ConnectorSpec::from_json(connector_outlook::SPEC_JSON).unwrap();
    let f = &spec.auth.fields;
    assert!(f["access_token"].secret && f["refresh_token"].secret && f["client_secret"].secret);
    assert_eq!(f["tenant"].default.as_deref(), Some("common"));
    assert_eq!(
        f["token_url"].default.as_deref(),
        Some(connector_outlook::token_url("common").as_str())
    );
    assert_eq!(
        connector_outlook::token_url("contoso.onmicrosoft.com"),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
}

#[test]
fn agents_get_one_tool_per_action_in_every_format_and_a_catalogue() {
    use connector_core::tools::{action_tools, catalogue, execute_tool, ToolFormat};
    let spec = ConnectorSpec::from_json(connector_outlook::SPEC_JSON).unwrap();
    for format in [ToolFormat::OpenAi, ToolFormat::Anthropic, ToolFormat::Mcp] {
        let tools = action_tools(&spec, format);
        assert_eq!(tools.len(), 45, "{format:?}");
        let text = serde_json::to_string(&tools).unwrap();
        assert!(
            text.contains("messages") && text.contains("delta_token"),
            "{format:?}"
        );
    }
    let single = execute_tool(&spec).to_string();
    assert!(single.contains("outlook") || single.contains("Outlook"));
    let cat = catalogue(&spec);
    for needle in [
        "messages.send",
        "messages.delta",
        "subscriptions.create",
        "sync_required",
    ] {
        assert!(cat.contains(needle), "catalogue lacks {needle}");
    }
}

#[test]
fn typed_params_default_to_what_the_spec_declares() {
    let spec = connector_outlook::spec();
    let handlers = connector_outlook::handlers();
    let typed = handlers
        .iter()
        .filter(|(_, h)| h.typed_params(serde_json::json!({})).is_some())
        .count();
    assert_eq!(
        typed,
        handlers.len(),
        "every Outlook handler has typed params"
    );
    let disagreements = connector_core::params::default_disagreements(spec.spec(), &handlers);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
