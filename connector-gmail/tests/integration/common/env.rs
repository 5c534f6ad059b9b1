//! A Gmail sandbox on loopback and a connector pointed at it.

use std::sync::Arc;
use std::time::Duration;

use connector_core::{Connector, HttpConfig, Output, RetryConfig, Secret, StaticToken};
use sandbox_gmail::{GmailSandbox, SandboxConfig, Seed, TokenRule};
use serde_json::Value;

pub const ADA: &str = "ada@example.com";

pub struct Env {
    pub sb: GmailSandbox,
    pub gmail: Connector,
}

pub fn config(seed: Seed) -> SandboxConfig {
    SandboxConfig {
        seed,
        quotas: false,
        ..SandboxConfig::default()
    }
}

pub fn start(cfg: SandboxConfig) -> Env {
    let sb = GmailSandbox::start(cfg).expect("sandbox starts");
    let gmail = connector_for(&sb, "test-token");
    Env { sb, gmail }
}

pub fn with_tokens(seed: Seed, tokens: Vec<TokenRule>) -> GmailSandbox {
    GmailSandbox::start(SandboxConfig {
        tokens,
        ..config(seed)
    })
    .expect("sandbox starts")
}

pub fn connector_for(sb: &GmailSandbox, token: &str) -> Connector {
    let mut http = HttpConfig::new(sb.base_url());
    http.retry = RetryConfig {
        max_attempts: 6,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(3),
        max_total_wait: Duration::from_secs(20),
    };
    connector_gmail::connector(Arc::new(StaticToken(Secret::new(token))), http)
        .expect("connector builds")
}

/// Runs an action, checks its result against the action's result schema, returns the output.
pub async fn run(gmail: &Connector, entity: &str, action: &str, params: Value) -> Output {
    let out = gmail
        .execute(entity, action, params.clone())
        .await
        .unwrap_or_else(|e| {
            let shown: String = params.to_string().chars().take(300).collect();
            panic!("{entity}.{action} {shown}: {e} {}", e.details)
        });
    check_result(entity, action, &out.result);
    out
}

/// The result validates against the spec's result schema for the action.
pub fn check_result(entity: &str, action: &str, result: &Value) {
    let spec: Value = serde_json::from_str(connector_gmail::SPEC_JSON).unwrap();
    let schema = &spec["entities"][entity]["actions"][action]["result"];
    let v = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(result)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{entity}.{action} result does not match its schema: {errors:#?}\n{result:#}"
    );
}
