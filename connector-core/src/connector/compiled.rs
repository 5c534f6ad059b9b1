//! A spec with its params validators compiled once, and the lookups `execute` needs.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::spec::{
    ActionSpec, CompatAction, CompatResult, ConnectorSpec, Implementation, RequestMapping,
};
use crate::validate::{suggest, ParamsValidator};
use crate::{ConnectorError, ErrorCode, Result};

/// A spec with its params validators compiled once. Share one `Arc<CompiledSpec>` across every
/// connector instance of the same type.
pub struct CompiledSpec {
    spec: ConnectorSpec,
    validators: HashMap<(String, String), ParamsValidator>,
}

impl std::fmt::Debug for CompiledSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSpec")
            .field("name", &self.spec.name)
            .field("version", &self.spec.version)
            .field("actions", &self.validators.len())
            .finish()
    }
}

impl CompiledSpec {
    /// Compiles every action's params schema (each must be a valid JSON Schema with
    /// `additionalProperties: false` at the top level) and checks declarative mappings name
    /// declared params.
    pub fn new(spec: ConnectorSpec) -> Result<Arc<CompiledSpec>> {
        let mut validators = HashMap::new();
        for (entity, e) in &spec.entities {
            for (action, a) in &e.actions {
                let what = format!("{}: {entity}.{action}", spec.name);
                let v = ParamsValidator::new(&a.params)
                    .map_err(|err| ConnectorError::internal(format!("{what}: {}", err.message)))?;
                if let Implementation::Request(m) = &a.implementation {
                    check_mapping(&what, m, &v.param_names())?;
                }
                if let Some(p) = &a.pagination {
                    let names = v.param_names();
                    for param in std::iter::once(&p.token_param).chain(p.size_param.as_ref()) {
                        if !names.contains(&param.as_str()) {
                            return Err(ConnectorError::internal(format!(
                                "{what}: pagination names param `{param}` that params do not declare"
                            )));
                        }
                    }
                }
                validators.insert((entity.clone(), action.clone()), v);
            }
        }
        check_compat(&spec, &validators)?;
        Ok(Arc::new(CompiledSpec { spec, validators }))
    }

    /// Parses and compiles a spec file's text.
    pub fn from_json(text: &str) -> Result<Arc<CompiledSpec>> {
        CompiledSpec::new(ConnectorSpec::from_json(text)?)
    }

    pub fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    /// Finds an action; unknown names list the valid ones (with a suggestion when close).
    pub fn lookup(&self, entity: &str, action: &str) -> Result<&ActionSpec> {
        let Some(e) = self.spec.entities.get(entity) else {
            let valid: Vec<String> = self.spec.entities.keys().cloned().collect();
            let hint = suggest(entity, &valid)
                .map(|s| format!(" Did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(ConnectorError::new(
                ErrorCode::UnknownEntity,
                format!(
                    "{} has no entity `{entity}`.{hint} Valid entities: {}",
                    self.spec.name,
                    valid.join(", ")
                ),
            )
            .with_details(json!({"entity": entity, "valid_entities": valid})));
        };
        let Some(a) = e.actions.get(action) else {
            let valid: Vec<String> = e.actions.keys().cloned().collect();
            let hint = suggest(action, &valid)
                .map(|s| format!(" Did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(ConnectorError::new(
                ErrorCode::UnknownAction,
                format!(
                    "entity `{entity}` has no action `{action}`.{hint} Valid actions: {}",
                    valid.join(", ")
                ),
            )
            .with_details(json!({"entity": entity, "action": action, "valid_actions": valid})));
        };
        Ok(a)
    }

    /// Finds the action and validates `params` against its compiled schema.
    pub fn validate(&self, entity: &str, action: &str, params: &Value) -> Result<&ActionSpec> {
        let a = self.lookup(entity, action)?;
        let v = self
            .validators
            .get(&(entity.to_string(), action.to_string()))
            .expect("every action has a compiled validator");
        v.validate(&format!("{entity}.{action}"), params)?;
        Ok(a)
    }

    /// Like [`validate`](Self::validate), after accepting other clients' names (the spec's
    /// `compat` sets, e.g. Airbyte's `messages_trash.create`) and the provider's camelCase
    /// spelling of a param as aliases of ours. Returns our entity and action names, the action
    /// and the params with our names.
    pub fn accept(&self, entity: &str, action: &str, params: Value) -> Result<Accepted<'_>> {
        let (entity, action, params, result) = self.translate(entity, action, params)?;
        let a = self.lookup(entity, action)?;
        let v = self
            .validators
            .get(&(entity.to_string(), action.to_string()))
            .expect("every action has a compiled validator");
        let what = format!("{entity}.{action}");
        let params = v.resolve_aliases(&what, params)?;
        v.validate(&what, &params)?;
        let params = integers_as_integers(&a.params, params);
        Ok(Accepted {
            entity,
            action,
            spec: a,
            params,
            result,
        })
    }

    /// Our names for a call, and its params after the `compat` rules of the name it was
    /// called by (if any). Names without a compat rule come back as they are.
    fn translate<'s>(
        &'s self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<(&'s str, &'s str, Value, Option<CompatResult>)> {
        let called = format!("{entity}.{action}");
        let Some(rule) = self
            .spec
            .compat
            .values()
            .find_map(|set| set.actions.get(&called))
        else {
            let (e, a) = self.own_names(entity, action)?;
            return Ok((e, a, params, None));
        };
        let (target_entity, target_action) = rule
            .action
            .split_once('.')
            .expect("compat targets are checked when the spec compiles");
        let (e, a) = self.own_names(target_entity, target_action)?;
        let declared = self.validators[&(e.to_string(), a.to_string())].param_names();
        let params = apply_compat(&called, rule, &declared, params)?;
        Ok((e, a, params, rule.result))
    }

    /// The spec's own copies of `entity` and `action` (unknown names are the lookup's error).
    fn own_names(&self, entity: &str, action: &str) -> Result<(&str, &str)> {
        self.lookup(entity, action)?;
        let (e, spec) = self
            .spec
            .entities
            .get_key_value(entity)
            .expect("lookup found it");
        let (a, _) = spec.actions.get_key_value(action).expect("lookup found it");
        Ok((e.as_str(), a.as_str()))
    }

    /// Handler names the spec refers to, sorted.
    pub fn handler_names(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .spec
            .entities
            .values()
            .flat_map(|e| e.actions.values())
            .filter_map(|a| match &a.implementation {
                Implementation::Handler(h) => Some(h.as_str()),
                Implementation::Request(_) => None,
            })
            .collect();
        set.into_iter().collect()
    }
}

/// JSON Schema counts `5.0` as an integer; providers do not (`maxResults=5.0` is a 400). A
/// top-level param declared `integer` goes on as an integer.
fn integers_as_integers(schema: &Value, mut params: Value) -> Value {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return params;
    };
    if let Value::Object(map) = &mut params {
        for (name, value) in map.iter_mut() {
            let integer = props
                .get(name)
                .and_then(|p| p.get("type"))
                .is_some_and(|t| {
                    t == "integer" || t.as_array().is_some_and(|a| a.contains(&json!("integer")))
                });
            if let (true, Some(f)) = (integer, value.as_f64()) {
                if value.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                    *value = json!(f as i64);
                }
            }
        }
    }
    params
}

/// What [`CompiledSpec::accept`] found: our names for the call, the action and its params.
#[derive(Debug)]
pub struct Accepted<'s> {
    pub entity: &'s str,
    pub action: &'s str,
    pub spec: &'s ActionSpec,
    pub params: Value,
    /// Another result shape the caller's name asks for.
    pub result: Option<CompatResult>,
}

/// Every compat rule names an action of ours and params it declares; a compat name that is
/// also one of ours must mean that same action.
fn check_compat(
    spec: &ConnectorSpec,
    validators: &HashMap<(String, String), ParamsValidator>,
) -> Result<()> {
    for (client, set) in &spec.compat {
        for (called, rule) in &set.actions {
            let what = format!("{}: compat `{client}` `{called}`", spec.name);
            let bad = |msg: String| Err(ConnectorError::internal(format!("{what}: {msg}")));
            let Some((e, a)) = rule.action.split_once('.') else {
                return bad(format!("`{}` is not `entity.action`", rule.action));
            };
            let Some(v) = validators.get(&(e.to_string(), a.to_string())) else {
                return bad(format!(
                    "names `{}`, which the spec does not declare",
                    rule.action
                ));
            };
            if let Some((ce, ca)) = called.split_once('.') {
                if spec.action(ce, ca).is_some() && called != &rule.action {
                    return bad(format!(
                        "`{called}` is an action of ours; it cannot mean `{}`",
                        rule.action
                    ));
                }
            } else {
                return bad("the client name is not `entity.action`".into());
            }
            let names = v.param_names();
            for (param, how) in &rule.params {
                let targets: Vec<&String> = how
                    .rename
                    .iter()
                    .chain(how.split_into.as_ref().map(|s| &s.param))
                    .chain(how.fields.iter().flat_map(|f| f.values()))
                    .collect();
                let set_count = [
                    how.rename.is_some(),
                    how.split_into.is_some(),
                    how.fields.is_some(),
                    how.same_as.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if set_count != 1 {
                    return bad(format!("param `{param}` needs exactly one rule"));
                }
                if names.contains(&param.as_str()) {
                    return bad(format!(
                        "param `{param}` is declared by `{}` itself; a rule would change its meaning",
                        rule.action
                    ));
                }
                for t in targets {
                    if !names.contains(&t.as_str()) {
                        return bad(format!("param `{param}` maps to undeclared `{t}`"));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Rewrites the params of a call made by a compat name into ours (see
/// [`crate::spec::CompatParam`]). Names the action declares, and names without a rule, pass
/// through untouched; giving one of our params twice (directly and through a rule) is an error.
fn apply_compat(
    called: &str,
    rule: &CompatAction,
    declared: &[&str],
    params: Value,
) -> Result<Value> {
    let Value::Object(given) = params else {
        return Ok(params);
    };
    let mut out = Map::new();
    let mut from: HashMap<String, String> = HashMap::new();
    let mut put = |out: &mut Map<String, Value>, ours: &str, source: String, value: Value| {
        if let Some(first) = from.get(ours) {
            return Err(ConnectorError::invalid_params(format!(
                "{called}: `{first}` and `{source}` both give `{ours}`; send one of them"
            ))
            .with_details(json!({"errors": [{"pointer": format!("/{source}")}]})));
        }
        from.insert(ours.to_string(), source);
        out.insert(ours.to_string(), value);
        Ok(())
    };
    for (name, value) in &given {
        let how = match rule.params.get(name) {
            Some(how) if !declared.contains(&name.as_str()) => how,
            _ => {
                put(&mut out, name, name.clone(), value.clone())?;
                continue;
            }
        };
        if let Some(ours) = &how.rename {
            put(&mut out, ours, name.clone(), value.clone())?;
        } else if let Some(split) = &how.split_into {
            let value = match value {
                Value::String(s) => Value::Array(
                    s.split(split.separator.as_str())
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_string()))
                        .collect(),
                ),
                other => other.clone(),
            };
            put(&mut out, &split.param, name.clone(), value)?;
        } else if let Some(fields) = &how.fields {
            let Value::Object(inner) = value else {
                return Err(ConnectorError::invalid_field(
                    &format!("/{name}"),
                    &format!("{called}: `{name}` must be an object"),
                ));
            };
            for (field, v) in inner {
                let Some(ours) = fields.get(field) else {
                    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                    return Err(ConnectorError::invalid_field(
                        &format!("/{name}/{field}"),
                        &format!(
                            "{called}: `{name}.{field}` is not supported here; supported: {}",
                            known.join(", ")
                        ),
                    ));
                };
                put(&mut out, ours, format!("{name}.{field}"), v.clone())?;
            }
        } else if let Some(other) = &how.same_as {
            if given.get(other) != Some(value) {
                return Err(ConnectorError::invalid_field(
                    &format!("/{name}"),
                    &format!("{called}: `{name}` must equal `{other}` (or be left out)"),
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

fn check_mapping(what: &str, m: &RequestMapping, names: &[&str]) -> Result<()> {
    let bad = |msg: String| Err(ConnectorError::internal(format!("{what}: {msg}")));
    for placeholder in placeholders(&m.path) {
        if !names.contains(&placeholder) {
            return bad(format!(
                "path placeholder `{{{placeholder}}}` is not a declared param"
            ));
        }
    }
    for p in m
        .query
        .keys()
        .chain(m.body.keys())
        .chain(m.body_param.iter())
    {
        if !names.contains(&p.as_str()) {
            return bad(format!("the request mapping names undeclared param `{p}`"));
        }
    }
    let r = &m.response;
    for ptr in r
        .result
        .iter()
        .chain(r.next_page_token.iter())
        .chain(r.metadata.values())
    {
        if !ptr.is_empty() && !ptr.starts_with('/') {
            return bad(format!("`{ptr}` is not a JSON pointer (start it with `/`)"));
        }
    }
    Ok(())
}

/// `{name}` placeholders of a path template.
pub(crate) fn placeholders(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push(&rest[start + 1..start + len]);
        rest = &rest[start + len + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec with `labels.update`, `labels.list` and `drafts.send`, and a compat set naming
    /// them the way Airbyte's Gmail connector does.
    fn spec() -> Arc<CompiledSpec> {
        let obj = |props: Value, required: Value| {
            json!({"type": "object", "properties": props, "required": required,
                   "additionalProperties": false})
        };
        let action = |params: Value| {
            json!({"description": "d", "params": params, "result": {}, "handler": "h", "scopes": [],
                   "idempotent": true})
        };
        let text = json!({
            "name": "t", "version": "1.0.0", "description": "d",
            "auth": {"fields": {"access_token": {"description": "d"}}},
            "entities": {
                "labels": {"description": "d", "actions": {
                    "list": action(obj(json!({
                        "label_ids": {"type": "array", "items": {"type": "string"}},
                        "max_results": {"type": "integer"}}), json!([]))),
                    "update": action(obj(json!({
                        "label_id": {"type": "string"}, "name": {"type": "string"},
                        "text_color": {"type": "string"},
                        "background_color": {"type": "string"}}), json!(["label_id"]))),
                }},
                "drafts": {"description": "d", "actions": {
                    "send": action(obj(json!({"draft_id": {"type": "string"}}),
                                       json!(["draft_id"]))),
                }},
            },
            "compat": {"client": {"source": "test", "actions": {
                "labels.list": {"action": "labels.list", "params": {
                    "labelIds": {"split_into": {"param": "label_ids", "separator": ","}}}},
                "labels.update": {"action": "labels.update", "params": {
                    "color": {"fields": {"textColor": "text_color",
                                         "backgroundColor": "background_color"}},
                    "id": {"same_as": "labelId"}}},
                "drafts_send.create": {"action": "drafts.send",
                                       "params": {"id": {"rename": "draft_id"}}},
            }}},
        });
        CompiledSpec::from_json(&text.to_string()).expect("the test spec compiles")
    }

    #[test]
    fn an_integer_written_as_a_float_goes_on_as_an_integer() {
        let s = spec();
        let got = s
            .accept("labels", "list", json!({"max_results": 5.0}))
            .unwrap();
        assert_eq!(got.params["max_results"], json!(5));
        assert!(got.params["max_results"].is_i64());
        let e = s
            .accept("labels", "list", json!({"max_results": 5.5}))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParams);
    }

    #[test]
    fn a_compat_name_runs_our_action_with_its_params_renamed() {
        let s = spec();
        let got = s
            .accept("drafts_send", "create", json!({"id": "d1"}))
            .unwrap();
        assert_eq!((got.entity, got.action), ("drafts", "send"));
        assert_eq!(got.params, json!({"draft_id": "d1"}));
    }

    #[test]
    fn a_joined_string_becomes_our_array_and_our_own_array_is_untouched() {
        let s = spec();
        let got = s
            .accept(
                "labels",
                "list",
                json!({"labelIds": "INBOX, UNREAD,", "maxResults": 5}),
            )
            .unwrap();
        assert_eq!(
            got.params,
            json!({"label_ids": ["INBOX", "UNREAD"], "max_results": 5})
        );
        let ours = s
            .accept("labels", "list", json!({"label_ids": ["A,B"]}))
            .unwrap();
        assert_eq!(ours.params, json!({"label_ids": ["A,B"]}));
    }

    #[test]
    fn object_fields_become_our_params_and_unknown_fields_are_named() {
        let s = spec();
        let got = s
            .accept(
                "labels",
                "update",
                json!({"labelId": "L1", "id": "L1", "name": "n",
                       "color": {"textColor": "#000000", "backgroundColor": "#ffffff"}}),
            )
            .unwrap();
        assert_eq!(
            got.params,
            json!({"label_id": "L1", "name": "n", "text_color": "#000000",
                   "background_color": "#ffffff"})
        );
        let e = s
            .accept(
                "labels",
                "update",
                json!({"labelId": "L1", "color": {"shade": "dark"}}),
            )
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParams);
        assert!(e.message.contains("color.shade") && e.message.contains("textColor"));
    }

    #[test]
    fn a_repeated_id_must_agree_and_one_param_given_twice_is_refused() {
        let s = spec();
        let e = s
            .accept(
                "labels",
                "update",
                json!({"labelId": "L1", "id": "L2", "name": "n"}),
            )
            .unwrap_err();
        assert!(
            e.message.contains("`id` must equal `labelId`"),
            "{}",
            e.message
        );
        let e = s
            .accept(
                "labels",
                "update",
                json!({"label_id": "L1", "text_color": "#000000",
                       "color": {"textColor": "#111111"}}),
            )
            .unwrap_err();
        assert!(
            e.message.contains("text_color") && e.message.contains("color.textColor"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unknown_names_still_list_ours_only() {
        let s = spec();
        let e = s.accept("drafts_send", "delete", json!({})).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownEntity);
        assert!(!e.message.contains("drafts_send,"), "{}", e.message);
    }

    #[test]
    fn a_rule_that_would_change_one_of_our_params_does_not_compile() {
        let mut text: Value = serde_json::to_value(spec().spec()).unwrap();
        text["compat"]["client"]["actions"]["drafts_send.create"]["params"] =
            json!({"draft_id": {"rename": "draft_id"}});
        let e = CompiledSpec::from_json(&text.to_string()).unwrap_err();
        assert!(e.message.contains("declared by"), "{}", e.message);
        text["compat"]["client"]["actions"]["drafts_send.create"] =
            json!({"action": "drafts.archive"});
        let e = CompiledSpec::from_json(&text.to_string()).unwrap_err();
        assert!(e.message.contains("does not declare"), "{}", e.message);
    }
}
