//! Validation never panics on arbitrary JSON and always answers `Ok` or `invalid_params` with
//! at least one field error carrying a JSON pointer.

mod common;

use std::sync::{Arc, OnceLock};

use connector_core::{CompiledSpec, ErrorCode};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn specs() -> &'static Vec<Arc<CompiledSpec>> {
    static SPECS: OnceLock<Vec<Arc<CompiledSpec>>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let mut out = vec![common::compiled(common::demo_spec())];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                out.push(CompiledSpec::from_json(&std::fs::read_to_string(p).unwrap()).unwrap());
            }
        }
        out
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,14}",
                    "\\PC{0,16}",
                    Just("max_resutls".to_string()),
                    Just("a/b~c".to_string()),
                    Just("max_results".to_string()),
                    Just("page_token".to_string()),
                    Just("message_id".to_string()),
                    Just("label_ids".to_string()),
                    Just("q".to_string()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn validation_never_panics(params in arb_json(), pick in any::<usize>()) {
        for compiled in specs() {
            let actions: Vec<(&String, &String)> = compiled
                .spec()
                .entities
                .iter()
                .flat_map(|(e, s)| s.actions.keys().map(move |a| (e, a)))
                .collect();
            let (entity, action) = actions[pick % actions.len()];
            match compiled.validate(entity, action, &params) {
                Ok(_) => prop_assert!(params.is_object()),
                Err(e) => {
                    prop_assert_eq!(e.code, ErrorCode::InvalidParams);
                    let errors = e.details["errors"].as_array().cloned().unwrap_or_default();
                    prop_assert!(!errors.is_empty());
                    for err in errors {
                        let p = err["pointer"].as_str().unwrap();
                        prop_assert!(p.is_empty() || p.starts_with('/'));
                        prop_assert!(err["expected"].is_string());
                        prop_assert!(err["given"].is_string());
                    }
                }
            }
        }
    }
}
