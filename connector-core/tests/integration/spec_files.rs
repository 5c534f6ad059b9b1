//! Every `specs/*.json` file validates against the checked-in meta-schema, parses as a
//! `ConnectorSpec` and compiles (every params schema valid, closed at the top level); the
//! checked-in meta-schema matches the Rust types.

use std::path::{Path, PathBuf};

use connector_core::{CompiledSpec, ConnectorSpec};
use serde_json::Value;

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

fn schema_path() -> PathBuf {
    specs_dir().join("schema/connector-spec.schema.json")
}

fn generated() -> String {
    let mut text = serde_json::to_string_pretty(&ConnectorSpec::meta_schema()).unwrap();
    text.push('\n');
    text
}

#[test]
fn checked_in_meta_schema_is_current() {
    let path = schema_path();
    let fresh = generated();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "{} is stale (the spec types changed). Regenerate it with:\n    UPDATE_SCHEMA=1 cargo test -p connector-core --test integration spec_files::",
        path.display()
    );
}

fn spec_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(specs_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_spec_file_validates_parses_and_compiles() {
    let meta: Value = serde_json::from_str(&generated()).unwrap();
    let validator = jsonschema::validator_for(&meta).expect("the meta-schema compiles");
    let files = spec_files();
    assert!(
        !files.is_empty(),
        "no spec files in {}",
        specs_dir().display()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match the meta-schema:\n{}",
            file.display(),
            errors.join("\n")
        );
        let spec = ConnectorSpec::from_json(&text)
            .unwrap_or_else(|e| panic!("{}: {}", file.display(), e.message));
        let compiled =
            CompiledSpec::new(spec).unwrap_or_else(|e| panic!("{}: {}", file.display(), e.message));
        assert!(!compiled.spec().entities.is_empty(), "{}", file.display());
    }
}

#[test]
fn spec_typos_are_errors_naming_the_path() {
    let mut spec = crate::common::demo_spec();
    spec["entities"]["labels"]["actions"]["get"]["idempotnt"] = serde_json::json!(true);
    let e = ConnectorSpec::from_json(&spec.to_string()).unwrap_err();
    assert!(e.message.contains("idempotnt"), "{}", e.message);

    let mut spec = crate::common::demo_spec();
    spec["entities"]["labels"]["actions"]["get"]["request"]["qurey"] = serde_json::json!({});
    let e = ConnectorSpec::from_json(&spec.to_string()).unwrap_err();
    assert!(
        e.message.contains("entities.labels.actions.get"),
        "{}",
        e.message
    );
}

#[test]
fn compiling_refuses_open_params_and_mappings_naming_undeclared_params() {
    let mut spec = crate::common::demo_spec();
    spec["entities"]["labels"]["actions"]["get"]["params"]["additionalProperties"] =
        serde_json::json!(true);
    let e = CompiledSpec::from_json(&spec.to_string()).unwrap_err();
    assert!(
        e.message.contains("labels.get") && e.message.contains("additionalProperties"),
        "{}",
        e.message
    );

    let mut spec = crate::common::demo_spec();
    spec["entities"]["labels"]["actions"]["get"]["request"]["path"] =
        serde_json::json!("/v1/labels/{id}");
    let e = CompiledSpec::from_json(&spec.to_string()).unwrap_err();
    assert!(e.message.contains("{id}"), "{}", e.message);

    let mut spec = crate::common::demo_spec();
    spec["entities"]["messages"]["actions"]["list"]["request"]["query"]["pageSize"] =
        serde_json::json!("x");
    let e = CompiledSpec::from_json(&spec.to_string()).unwrap_err();
    assert!(e.message.contains("pageSize"), "{}", e.message);
}

#[test]
fn every_example_in_every_spec_file_is_valid_params() {
    for file in spec_files() {
        let compiled = CompiledSpec::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for (entity, e) in &compiled.spec().entities {
            for (action, a) in &e.actions {
                for ex in &a.examples {
                    if let Err(err) = compiled.validate(entity, action, &ex.params) {
                        panic!(
                            "{}: the example `{}` of {entity}.{action} is not valid: {}",
                            file.display(),
                            ex.description,
                            err.message
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_action_of_every_spec_declares_its_effect_consistently() {
    use connector_core::spec::{Effect, HttpMethod, Implementation};
    for file in spec_files() {
        let spec = ConnectorSpec::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for (entity, e) in &spec.entities {
            for (action, a) in &e.actions {
                let at = format!("{}: {entity}.{action}", file.display());
                let effect = a
                    .effect
                    .unwrap_or_else(|| panic!("{at} declares no effect"));
                if effect == Effect::Read {
                    assert!(a.idempotent, "{at} reads but is not idempotent");
                }
                if let Implementation::Request(r) = &a.implementation {
                    assert_eq!(
                        r.method == HttpMethod::Get,
                        effect == Effect::Read,
                        "{at}: a GET mapping reads, any other method writes"
                    );
                }
            }
        }
    }
}
