//! Shared helpers: a small spec, quick retry settings, a connector pointed at wiremock.

use std::sync::Arc;
use std::time::Duration;

use connector_core::{
    CompiledSpec, Connector, ConnectorBuilder, HttpConfig, RetryConfig, Secret, StaticToken,
};
use serde_json::{json, Value};

/// Retries fast enough for tests.
pub fn quick_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_total_wait: Duration::from_secs(3),
    }
}

pub fn http(base: &str) -> HttpConfig {
    let mut h = HttpConfig::new(base);
    h.retry = quick_retry();
    h
}

/// A spec built from JSON text, the way a spec file would be.
pub fn demo_spec() -> Value {
    json!({
        "name": "demo",
        "version": "0.1.0",
        "description": "A demo mail API.",
        "auth": {
            "fields": {
                "access_token": {"description": "OAuth access token", "secret": true},
                "refresh_token": {"description": "OAuth refresh token", "secret": true}
            },
            "one_of": [["access_token"], ["refresh_token"]]
        },
        "pagination_guidance": "Pass metadata.next_page_token back as page_token.",
        "entities": {
            "labels": {
                "description": "Labels.",
                "actions": {
                    "get": {
                        "description": "Gets a label.",
                        "params": {"type": "object", "additionalProperties": false,
                            "required": ["label_id"],
                            "properties": {"label_id": {"type": "string", "minLength": 1}}},
                        "result": {"type": "object"},
                        "request": {"method": "GET", "path": "/v1/labels/{label_id}",
                            "response": {"snake_case_keys": true}},
                        "scopes": ["https://www.googleapis.com/auth/gmail.labels", "https://mail.google.com/"],
                        "idempotent": true
                    },
                    "create": {
                        "description": "Creates a label.",
                        "params": {"type": "object", "additionalProperties": false,
                            "required": ["name"],
                            "properties": {"name": {"type": "string"},
                                "background_color": {"type": "string"}}},
                        "result": {"type": "object"},
                        "request": {"method": "POST", "path": "/v1/labels",
                            "body": {"name": "name", "background_color": "color.backgroundColor"}},
                        "idempotent": false
                    }
                }
            },
            "messages": {
                "description": "Messages.",
                "actions": {
                    "list": {
                        "description": "Lists messages.",
                        "params": {"type": "object", "additionalProperties": false,
                            "properties": {
                                "q": {"type": "string"},
                                "label_ids": {"type": "array", "items": {"type": "string"}},
                                "max_results": {"type": "integer", "minimum": 1, "maximum": 500},
                                "page_token": {"type": "string"}
                            }},
                        "result": {"type": "array"},
                        "request": {"method": "GET", "path": "/v1/messages",
                            "query": {"q": "q", "label_ids": "labelIds",
                                "max_results": "maxResults", "page_token": "pageToken"},
                            "fixed_query": {"format": "minimal"},
                            "response": {"result": "/messages", "next_page_token": "/nextPageToken",
                                "metadata": {"result_size_estimate": "/resultSizeEstimate"},
                                "snake_case_keys": true}},
                        "idempotent": true,
                        "pagination": {"token_param": "page_token", "size_param": "max_results",
                            "next_token_metadata": "next_page_token"}
                    },
                    "send": {
                        "description": "Sends a message (handler).",
                        "params": {"type": "object", "additionalProperties": false,
                            "required": ["to"],
                            "properties": {"to": {"type": "array", "items": {"type": "string"}}}},
                        "result": {"type": "object"},
                        "handler": "send",
                        "idempotent": false
                    }
                }
            }
        }
    })
}

pub fn compiled(spec: Value) -> Arc<CompiledSpec> {
    CompiledSpec::from_json(&spec.to_string()).expect("spec compiles")
}

pub fn builder(base: &str, token: &str) -> ConnectorBuilder {
    Connector::builder(compiled(demo_spec()))
        .http(http(base))
        .token_provider(Arc::new(StaticToken(Secret::new(token))))
}
