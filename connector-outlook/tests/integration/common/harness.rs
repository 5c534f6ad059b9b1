//! A connector wired to a running emulator, and execute that checks every result against the
//! action's result schema.

use std::sync::Arc;

use connector_core::{Connector, ConnectorSpec, HttpConfig, Output, Result, Secret, StaticToken};
use sandbox_outlook::{OutlookSandbox, SandboxConfig};
use serde_json::Value;

pub fn sandbox(cfg: SandboxConfig) -> OutlookSandbox {
    OutlookSandbox::start(cfg).expect("sandbox starts")
}

pub fn http(sb: &OutlookSandbox) -> HttpConfig {
    HttpConfig::new(sb.base_url())
}

pub fn connector_with(sb: &OutlookSandbox, token: &str) -> Connector {
    connector_outlook::connector(Arc::new(StaticToken(Secret::new(token))), http(sb))
        .expect("connector builds")
}

pub fn connector(sb: &OutlookSandbox) -> Connector {
    connector_with(sb, "any-token")
}

/// `execute`, and on success the result must validate against the spec's result schema.
pub async fn exec(c: &Connector, entity: &str, action: &str, params: Value) -> Result<Output> {
    let out = c.execute(entity, action, params).await?;
    let spec = ConnectorSpec::from_json(connector_outlook::SPEC_JSON).unwrap();
    let schema = &spec.action(entity, action).unwrap().result;
    let v = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(&out.result)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{entity}.{action} result breaks its schema: {errors:#?}"
    );
    Ok(out)
}

pub async fn ok(c: &Connector, entity: &str, action: &str, params: Value) -> Output {
    exec(c, entity, action, params)
        .await
        .unwrap_or_else(|e| panic!("{entity}.{action}: {e} {}", e.details))
}
