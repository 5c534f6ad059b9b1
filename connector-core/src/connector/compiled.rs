//! A spec with its params validators compiled once, and the lookups `execute` needs.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::spec::{ActionSpec, ConnectorSpec, Implementation, RequestMapping};
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

    /// Like [`validate`](Self::validate), after accepting the provider's camelCase spelling of
    /// a param as an alias of ours; returns the params with our names.
    pub fn accept(
        &self,
        entity: &str,
        action: &str,
        params: Value,
    ) -> Result<(&ActionSpec, Value)> {
        let a = self.lookup(entity, action)?;
        let v = self
            .validators
            .get(&(entity.to_string(), action.to_string()))
            .expect("every action has a compiled validator");
        let what = format!("{entity}.{action}");
        let params = v.resolve_aliases(&what, params)?;
        v.validate(&what, &params)?;
        Ok((a, params))
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
