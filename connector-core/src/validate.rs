//! Params validation with the `jsonschema` crate, compiled once per action.
//!
//! A failure is one `invalid_params` error whose `details.errors` lists every failing field as
//! `{pointer, expected, given, message}`; an unknown param also carries `suggestion` (the nearest
//! declared param name, by Jaro-Winkler similarity).

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::{json, Value};

use crate::{ConnectorError, ErrorCode, Result};

/// A compiled params schema of one action.
pub struct ParamsValidator {
    schema: Value,
    validator: Validator,
}

impl std::fmt::Debug for ParamsValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamsValidator")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl ParamsValidator {
    /// Compiles `schema` (JSON Schema 2020-12 unless it names another `$schema`). The top level
    /// must be an object schema with `additionalProperties: false` so typos are never dropped.
    pub fn new(schema: &Value) -> Result<ParamsValidator> {
        let obj = schema.as_object().ok_or_else(|| {
            ConnectorError::internal("a params schema must be a JSON object schema")
        })?;
        if obj.get("type").and_then(Value::as_str) != Some("object") {
            return Err(ConnectorError::internal(
                "a params schema must have \"type\": \"object\" at the top level",
            ));
        }
        if obj.get("additionalProperties") != Some(&Value::Bool(false)) {
            return Err(ConnectorError::internal(
                "a params schema must set \"additionalProperties\": false at the top level",
            ));
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| {
                ConnectorError::internal(format!("a params schema is not a valid JSON Schema: {e}"))
            })?;
        Ok(ParamsValidator {
            schema: schema.clone(),
            validator,
        })
    }

    /// The declared top-level param names.
    pub fn param_names(&self) -> Vec<&str> {
        self.schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Accepts the provider's own camelCase spelling of a declared param (`maxResults` for
    /// `max_results`, as Airbyte's clients send them) by renaming it to ours. Giving both
    /// spellings of one param is an `invalid_params` error naming both. Names that are not a
    /// spelling of a declared param are left for [`validate`](Self::validate) to refuse (with
    /// "did you mean").
    pub fn resolve_aliases(&self, what: &str, params: Value) -> Result<Value> {
        let Value::Object(map) = params else {
            return Ok(params);
        };
        let declared = self.param_names();
        let mut both = Vec::new();
        let mut out = serde_json::Map::with_capacity(map.len());
        let mut renamed = Vec::new();
        for (key, value) in map {
            let ours = crate::wire::snake_case(&key);
            if ours != key && !declared.contains(&key.as_str()) && declared.contains(&ours.as_str())
            {
                renamed.push((key, ours, value));
            } else {
                out.insert(key, value);
            }
        }
        for (alias, ours, value) in renamed {
            if out.contains_key(&ours) {
                both.push(json!({
                    "pointer": format!("/{}", escape(&alias)),
                    "expected": format!("`{ours}` given once"),
                    "given": alias,
                    "message": format!(
                        "`{alias}` and `{ours}` are the same param given twice; keep only `{ours}`"
                    ),
                }));
            } else {
                out.insert(ours, value);
            }
        }
        if both.is_empty() {
            return Ok(Value::Object(out));
        }
        let lines: Vec<&str> = both.iter().filter_map(|e| e["message"].as_str()).collect();
        Err(ConnectorError::new(
            ErrorCode::InvalidParams,
            format!(
                "invalid params for {what} (fix these and call again): {}",
                lines.join("; ")
            ),
        )
        .with_details(json!({ "errors": both })))
    }

    /// Validates `params`; `what` names the call (`messages.list`) in the message.
    pub fn validate(&self, what: &str, params: &Value) -> Result<()> {
        // Valid params (nearly every call) take the cheap check, which stops at the first
        // failure and matches `pattern`s without capture slots; the error walk runs only
        // when something is wrong.
        if self.validator.is_valid(params) {
            return Ok(());
        }
        let mut errors: Vec<Value> = Vec::new();
        for err in self.validator.iter_errors(params) {
            let pointer = err.instance_path().as_str().to_string();
            let schema_path = err.schema_path().as_str().to_string();
            let message = err.to_string();
            match err.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected }
                | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                    let known = self.known_names_at(&schema_path);
                    for name in unexpected {
                        let mut entry = json!({
                            "pointer": format!("{pointer}/{}", escape(name)),
                            "expected": if known.is_empty() {
                                "no such param".to_string()
                            } else {
                                format!("one of the declared params: {}", known.join(", "))
                            },
                            "given": name,
                            "message": format!("unknown param `{name}`"),
                        });
                        if let Some(s) = suggest(name, &known) {
                            entry["suggestion"] = json!(s);
                            entry["message"] =
                                json!(format!("unknown param `{name}`: did you mean `{s}`?"));
                        }
                        errors.push(entry);
                    }
                }
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    errors.push(json!({
                        "pointer": format!("{pointer}/{}", escape(name)),
                        "expected": format!("required `{name}`"),
                        "given": "missing",
                        "message": format!("`{name}` is required"),
                    }));
                }
                kind => {
                    let keyword = kind.keyword().to_string();
                    let expected = match self.schema.pointer(&schema_path) {
                        Some(v) => format!("{keyword}: {}", short(v)),
                        None => keyword,
                    };
                    errors.push(json!({
                        "pointer": pointer,
                        "expected": expected,
                        "given": short(err.instance()),
                        "message": message,
                    }));
                }
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = errors
            .iter()
            .map(|e| {
                let p = e["pointer"].as_str().unwrap_or("");
                let p = if p.is_empty() { "(params)" } else { p };
                format!("{p}: {}", e["message"].as_str().unwrap_or(""))
            })
            .collect();
        Err(ConnectorError::new(
            ErrorCode::InvalidParams,
            format!(
                "invalid params for {what} (fix these and call again): {}",
                lines.join("; ")
            ),
        )
        .with_details(json!({ "errors": errors })))
    }

    /// Property names declared by the schema object that holds the failing
    /// `additionalProperties` keyword.
    fn known_names_at(&self, schema_path: &str) -> Vec<String> {
        let parent = schema_path
            .rsplit_once('/')
            .map(|(p, _)| p)
            .unwrap_or_default();
        self.schema
            .pointer(parent)
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// The nearest known name to `given`, when it is close enough to be a plausible typo.
pub fn suggest(given: &str, known: &[String]) -> Option<String> {
    let norm = |s: &str| s.to_lowercase().replace(['_', '-'], "");
    let g = norm(given);
    known
        .iter()
        .map(|k| {
            let score = if norm(k) == g {
                1.0
            } else {
                strsim::jaro_winkler(&g, &norm(k))
            };
            (score, k)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A value rendered for a message, cut to keep errors readable.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_camel_case_names_are_aliases_and_both_at_once_is_an_error() {
        let v = ParamsValidator::new(&schema()).unwrap();
        let p = v
            .resolve_aliases("m.get", json!({"messageId": "a", "maxResults": 5}))
            .unwrap();
        assert_eq!(p, json!({"message_id": "a", "max_results": 5}));
        v.validate("m.get", &p).unwrap();
        // A true typo is not an alias: validation still says "did you mean".
        let p = v
            .resolve_aliases("m.get", json!({"message_id": "a", "maxResutls": 5}))
            .unwrap();
        let e = v.validate("m.get", &p).unwrap_err();
        assert_eq!(e.details["errors"][0]["suggestion"], "max_results");
        // Both spellings of one param: refused, naming both.
        let e = v
            .resolve_aliases(
                "m.get",
                json!({"message_id": "a", "max_results": 5, "maxResults": 6}),
            )
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParams);
        assert!(e.message.contains("`maxResults`") && e.message.contains("`max_results`"));
        assert_eq!(e.details["errors"][0]["pointer"], "/maxResults");
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["message_id"],
            "properties": {
                "message_id": {"type": "string", "minLength": 1},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 500},
                "label_ids": {"type": "array", "items": {"type": "string"}},
                "format": {"enum": ["full", "metadata", "minimal"]}
            }
        })
    }

    #[test]
    fn valid_params_pass() {
        let v = ParamsValidator::new(&schema()).unwrap();
        v.validate("m.get", &json!({"message_id": "a", "max_results": 5}))
            .unwrap();
    }

    #[test]
    fn unknown_param_suggests_the_near_name() {
        let v = ParamsValidator::new(&schema()).unwrap();
        let e = v
            .validate("m.get", &json!({"message_id": "a", "maxresults": 5}))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParams);
        let errs = e.details["errors"].as_array().unwrap();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0]["pointer"], "/maxresults");
        assert_eq!(errs[0]["suggestion"], "max_results");
        assert!(
            e.message.contains("did you mean `max_results`?"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unrelated_unknown_param_has_no_suggestion() {
        let v = ParamsValidator::new(&schema()).unwrap();
        let e = v
            .validate("m.get", &json!({"message_id": "a", "zzz": 1}))
            .unwrap_err();
        assert!(e.details["errors"][0].get("suggestion").is_none());
        assert!(e.details["errors"][0]["expected"]
            .as_str()
            .unwrap()
            .contains("message_id"));
    }

    #[test]
    fn every_failing_field_is_reported_with_pointer_expected_and_given() {
        let v = ParamsValidator::new(&schema()).unwrap();
        let e = v
            .validate(
                "m.list",
                &json!({"max_results": 9999, "label_ids": ["A", 7], "format": "raw"}),
            )
            .unwrap_err();
        let errs = e.details["errors"].as_array().unwrap();
        let by_ptr = |p: &str| {
            errs.iter()
                .find(|e| e["pointer"] == p)
                .unwrap_or_else(|| panic!("no error for {p}: {errs:?}"))
        };
        assert_eq!(by_ptr("/message_id")["given"], "missing");
        assert_eq!(by_ptr("/max_results")["expected"], "maximum: 500");
        assert_eq!(by_ptr("/max_results")["given"], "9999");
        assert_eq!(by_ptr("/label_ids/1")["expected"], "type: \"string\"");
        assert!(by_ptr("/format")["expected"]
            .as_str()
            .unwrap()
            .starts_with("enum"));
        assert_eq!(errs.len(), 4);
    }

    #[test]
    fn schemas_without_closed_top_level_are_refused() {
        let open = json!({"type": "object", "properties": {}});
        assert!(ParamsValidator::new(&open).is_err());
        let not_obj = json!({"type": "string", "additionalProperties": false});
        assert!(ParamsValidator::new(&not_obj).is_err());
        let broken = json!({"type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "no-such-type"}}});
        assert!(ParamsValidator::new(&broken).is_err());
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        let v = ParamsValidator::new(&schema()).unwrap();
        let e = v
            .validate("m.get", &json!({"message_id": "a", "a/b~c": 1}))
            .unwrap_err();
        assert_eq!(e.details["errors"][0]["pointer"], "/a~1b~0c");
        assert_eq!(e.details["errors"][0]["given"], "a/b~c");
    }

    #[test]
    fn suggest_handles_case_and_separators() {
        let known = vec!["max_results".to_string(), "page_token".to_string()];
        assert_eq!(
            suggest("MaxResults", &known).as_deref(),
            Some("max_results")
        );
        assert_eq!(suggest("pageToken", &known).as_deref(), Some("page_token"));
        assert_eq!(suggest("qqq", &known), None);
    }
}
