//! Fuzzing of params validation (proptest; see docs/fuzzing.md). Validation never panics on
//! arbitrary JSON and always answers `Ok` or `invalid_params` with at least one field error
//! carrying a JSON pointer. Structure-aware: params generated from each action's own schema
//! are accepted, and the same params with one name misspelt, one value of the wrong type or
//! one required param left out are refused with the error pointing at that param (a misspelt
//! name gets the right "did you mean").

use std::sync::{Arc, OnceLock};

use connector_core::{CompiledSpec, ErrorCode};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Map, Value};

fn specs() -> &'static Vec<Arc<CompiledSpec>> {
    static SPECS: OnceLock<Vec<Arc<CompiledSpec>>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let mut out = vec![crate::common::compiled(crate::common::demo_spec())];
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

/// `PROPTEST_CASES` when set, else `default` (the CI run).
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Properties that only apply to some inputs skip the others (`prop_assume!`).
        max_global_rejects: cases.saturating_mul(2).max(1024),
        // A failing input is saved next to this file (`*.proptest-regressions`, committed) and
        // replayed first on every run.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

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

/// Every action of every spec: (spec index, entity, action, params schema).
fn actions() -> &'static Vec<(usize, String, String, Value)> {
    static ACTIONS: OnceLock<Vec<(usize, String, String, Value)>> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        let mut out = Vec::new();
        for (i, compiled) in specs().iter().enumerate() {
            for (entity, e) in &compiled.spec().entities {
                for (action, a) in &e.actions {
                    out.push((i, entity.clone(), action.clone(), a.params.clone()));
                }
            }
        }
        out
    })
}

/// ASCII generators for the patterns the specs use (a JSON Schema pattern is an ECMA regex,
/// whose `\w` and `\s` differ from Rust's; generating from a fixed table keeps the values valid
/// under both). `None`: a pattern this fuzzer does not know, so the action is skipped.
fn pattern_regex(pattern: &str) -> Option<&'static str> {
    Some(match pattern {
        "^[^/?#\\s]+$" => "[A-Za-z0-9_=.-]{1,24}",
        "^#[0-9a-fA-F]{6}$" => "#[0-9a-fA-F]{6}",
        "^[\\w.+-]+/[\\w.+-]+$" => "[a-z]{1,10}/[a-z0-9.+-]{1,10}",
        "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$" => {
            "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T[01][0-9]:[0-5][0-9](:[0-5][0-9])?Z)?"
        }
        "^[0-9]{1,16}$" => "[0-9]{1,16}",
        "^[0-9]{1,20}$" => "[0-9]{1,20}",
        "^projects/[^/]+/topics/[^/]+$" => "projects/[a-z0-9-]{1,10}/topics/[a-z0-9-]{1,10}",
        "^https?://" => "https?://[a-z]{1,10}\\.example/[a-z]{0,8}",
        "^[^\\s@]+@[^\\s@]+$" | "^[^/?#\\s]+@[^/?#\\s]+$" => "[a-z]{1,8}@[a-z]{1,8}\\.com",
        "^(none|preset([0-9]|1[0-9]|2[0-4]))$" => "none|preset([0-9]|1[0-9]|2[0-4])",
        _ => return None,
    })
}

/// A strategy for values valid under `schema`, or `None` when the schema uses something this
/// generator does not handle.
fn valid_value(schema: &Value) -> Option<BoxedStrategy<Value>> {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return Some(prop::sample::select(options.clone()).boxed());
    }
    let num = |k: &str| schema.get(k).and_then(Value::as_u64);
    match schema.get("type").and_then(Value::as_str)? {
        "string" => {
            let (min, max) = (
                num("minLength").unwrap_or(0),
                num("maxLength").unwrap_or(40),
            );
            let regex = match schema.get("pattern").and_then(Value::as_str) {
                Some(p) => pattern_regex(p)?.to_string(),
                None => format!("[A-Za-z0-9 ._-]{{{min},{}}}", max.min(min + 40)),
            };
            let in_length = move |s: &String| {
                let n = s.chars().count() as u64;
                n >= min && n <= max
            };
            Some(
                proptest::string::string_regex(&regex)
                    .ok()?
                    .prop_filter("length", in_length)
                    .prop_map(Value::String)
                    .boxed(),
            )
        }
        "integer" => {
            let min = schema
                .get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(-1000);
            let max = schema
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(min + 1000);
            Some((min..=max).prop_map(Value::from).boxed())
        }
        "boolean" => Some(any::<bool>().prop_map(Value::Bool).boxed()),
        "array" => {
            let item = valid_value(schema.get("items")?)?;
            let min = num("minItems").unwrap_or(0) as usize;
            let max = (num("maxItems").unwrap_or(4) as usize).min(min + 4);
            let unique = schema.get("uniqueItems") == Some(&Value::Bool(true));
            Some(
                prop::collection::vec(item, min..=max)
                    .prop_map(move |mut v| {
                        if unique {
                            let mut seen = Vec::new();
                            v.retain(|x| {
                                let fresh = !seen.contains(x);
                                seen.push(x.clone());
                                fresh
                            });
                        }
                        Value::Array(v)
                    })
                    .prop_filter("minItems after dedupe", move |v| {
                        v.as_array().is_some_and(|a| a.len() >= min)
                    })
                    .boxed(),
            )
        }
        "object" => valid_object(schema),
        _ => None,
    }
}

/// An object with every required property and a random choice of the optional ones.
fn valid_object(schema: &Value) -> Option<BoxedStrategy<Value>> {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let all_props = schema.get("minProperties").is_some();
    let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
    for (name, prop_schema) in schema.get("properties")?.as_object()? {
        let value = valid_value(prop_schema)?;
        let name = name.clone();
        let field = if required.contains(&name) || all_props {
            value.prop_map(move |v| Some((name.clone(), v))).boxed()
        } else {
            prop::option::of(value.prop_map(move |v| (name.clone(), v))).boxed()
        };
        fields.push(field);
    }
    Some(
        fields
            .prop_map(|fs| Value::Object(fs.into_iter().flatten().collect::<Map<_, _>>()))
            .boxed(),
    )
}

/// A value of another JSON type than `schema` declares.
fn wrong_type(schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => json!(12345),
        Some("integer") | Some("number") => json!("not a number"),
        Some("boolean") => json!("yes"),
        Some("array") => json!({"not": "an array"}),
        _ => json!([true]),
    }
}

/// A generated valid params object for a random action, with that action.
fn action_and_params() -> impl Strategy<Value = (usize, Value)> {
    let usable: Vec<(usize, BoxedStrategy<Value>)> = actions()
        .iter()
        .enumerate()
        .filter_map(|(i, (_, _, _, schema))| valid_object(schema).map(|s| (i, s)))
        .collect();
    assert!(
        usable.len() * 10 >= actions().len() * 9,
        "the generator should cover nearly every action ({} of {})",
        usable.len(),
        actions().len()
    );
    let strategies: Vec<BoxedStrategy<(usize, Value)>> = usable
        .into_iter()
        .map(|(i, s)| s.prop_map(move |v| (i, v)).boxed())
        .collect();
    prop::strategy::Union::new(strategies)
}

/// The error validating `params` for action `index` gives, if any.
fn refusal(index: usize, params: &Value) -> Option<connector_core::ConnectorError> {
    let (spec, entity, action, _) = &actions()[index];
    specs()[*spec].validate(entity, action, params).err()
}

fn errors_of(e: &connector_core::ConnectorError) -> Vec<Value> {
    e.details["errors"].as_array().cloned().unwrap_or_default()
}

/// Jaro-Winkler similarity ignoring case, `_` and `-` (how suggestions are ranked).
fn nearness(a: &str, b: &str) -> f64 {
    let norm = |s: &str| s.to_lowercase().replace(['_', '-'], "");
    strsim::jaro_winkler(&norm(a), &norm(b))
}

/// `name` with one edit: two neighbours swapped or one letter dropped.
fn misspell(name: &str, at: usize, swap: bool) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let i = at % (chars.len() - 1);
    if swap && chars[i] != chars[i + 1] {
        chars.swap(i, i + 1);
    } else {
        chars.remove(i + 1);
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn params_generated_from_the_schema_are_accepted((index, params) in action_and_params()) {
        let (_, entity, action, _) = &actions()[index];
        if let Some(e) = refusal(index, &params) {
            prop_assert!(false, "{entity}.{action} refused valid params {params}: {}", e.message);
        }
    }

    #[test]
    fn a_misspelt_param_is_refused_with_the_right_suggestion(
        (index, params) in action_and_params(),
        pick in any::<usize>(),
        at in any::<usize>(),
        swap in any::<bool>(),
    ) {
        let (_, _, _, schema) = &actions()[index];
        let declared: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let names: Vec<String> = params.as_object().unwrap().keys()
            .filter(|n| n.len() >= 5).cloned().collect();
        prop_assume!(!names.is_empty());
        let name = &names[pick % names.len()];
        let typo = misspell(name, at, swap);
        prop_assume!(!declared.iter().any(|d| **d == typo));
        let mut bad = params.clone();
        let v = bad.as_object_mut().unwrap().remove(name).unwrap();
        bad[&typo] = v;
        let e = refusal(index, &bad).expect("a misspelt param is refused");
        prop_assert_eq!(e.code, ErrorCode::InvalidParams);
        let errors = errors_of(&e);
        let err = errors.iter().find(|x| x["given"] == json!(typo));
        prop_assert!(err.is_some(), "no error names {typo:?}: {errors:?}");
        let err = err.unwrap();
        prop_assert_eq!(&err["pointer"], &json!(format!("/{typo}")));
        // "Did you mean" names the original, unless another declared name is at least as near.
        let suggestion = err["suggestion"].as_str();
        prop_assert!(suggestion.is_some(), "no suggestion for {typo:?} (was {name:?}): {err}");
        let suggestion = suggestion.unwrap();
        prop_assert!(declared.iter().any(|d| *d == suggestion));
        prop_assert!(
            suggestion == name || nearness(&typo, suggestion) >= nearness(&typo, name),
            "suggested {suggestion:?} for {typo:?} (was {name:?})"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_at_its_pointer(
        (index, params) in action_and_params(),
        pick in any::<usize>(),
    ) {
        let (_, _, _, schema) = &actions()[index];
        let names: Vec<String> = params.as_object().unwrap().keys().cloned().collect();
        prop_assume!(!names.is_empty());
        let name = &names[pick % names.len()];
        let mut bad = params.clone();
        bad[name] = wrong_type(&schema["properties"][name]);
        let e = refusal(index, &bad).expect("a wrong type is refused");
        let pointer = format!("/{}", name.replace('~', "~0").replace('/', "~1"));
        prop_assert!(
            errors_of(&e).iter().any(|x| x["pointer"] == json!(pointer)),
            "no error at {pointer}: {:?}", errors_of(&e)
        );
    }

    #[test]
    fn a_missing_required_param_is_named(
        (index, params) in action_and_params(),
        pick in any::<usize>(),
    ) {
        let (_, _, _, schema) = &actions()[index];
        let required: Vec<String> = schema["required"].as_array().into_iter().flatten()
            .filter_map(|v| v.as_str().map(str::to_string)).collect();
        prop_assume!(!required.is_empty());
        let name = &required[pick % required.len()];
        let mut bad = params.clone();
        bad.as_object_mut().unwrap().remove(name);
        let e = refusal(index, &bad).expect("a missing required param is refused");
        prop_assert!(
            errors_of(&e).iter().any(|x| x["pointer"] == json!(format!("/{name}")) && x["given"] == "missing"),
            "{:?}", errors_of(&e)
        );
    }
}
