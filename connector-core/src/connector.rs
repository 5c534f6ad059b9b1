//! `execute(entity, action, params)`: find the action, validate params, run the declarative
//! mapping or the named handler through the provider client, shape `{result, metadata}`.
//!
//! SKELETON: signatures are the contract other crates build against; bodies to be completed.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::auth::TokenProvider;
use crate::http::{HttpConfig, ProviderClient, ProviderRequest, ProviderResponse};
use crate::spec::{ActionSpec, ConnectorSpec};
use crate::Result;

/// What `execute` returns: `result` (a record, or an array of records for list actions) and
/// `metadata` (`next_page_token`, `result_size_estimate`, ...).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Output {
    pub result: Value,
    pub metadata: Map<String, Value>,
}

impl Output {
    pub fn new(result: Value) -> Self {
        Output {
            result,
            metadata: Map::new(),
        }
    }
    pub fn with_meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_string(), value.into());
        self
    }
}

/// Per-call options.
#[derive(Debug, Clone, Default)]
pub struct ExecuteOptions {
    /// Makes a non-idempotent action (send) exactly-once: see design.md.
    pub idempotency_key: Option<String>,
}

/// A spec with its params validators compiled once. Share one `Arc<CompiledSpec>` across every
/// connector instance of the same type.
pub struct CompiledSpec {
    // to be completed
}

/// What a handler gets for one call.
pub struct CallContext<'a> {
    pub entity: &'a str,
    pub action: &'a str,
    pub spec: &'a ActionSpec,
    pub options: &'a ExecuteOptions,
    // plus the connector's client and token provider
}

impl CallContext<'_> {
    /// Sends a request with auth (and one refresh-and-retry on 401) and the retry policy of this
    /// action (or the request's own `idempotent` override). Non-2xx answers come back as errors
    /// with the provider's code kept.
    pub async fn send(&self, _request: ProviderRequest) -> Result<ProviderResponse> {
        todo!()
    }
}

/// Rust code for an action whose spec names a handler.
#[async_trait]
pub trait ActionHandler: Send + Sync {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output>;
}

/// One connector instance: a compiled spec, handlers, a provider client and a token provider.
#[derive(Clone)]
pub struct Connector {
    // to be completed
}

pub struct ConnectorBuilder {
    // to be completed
}

impl Connector {
    pub fn builder(_spec: Arc<CompiledSpec>) -> ConnectorBuilder {
        todo!()
    }
    pub async fn execute(&self, _entity: &str, _action: &str, _params: Value) -> Result<Output> {
        todo!()
    }
    pub async fn execute_with(
        &self,
        _entity: &str,
        _action: &str,
        _params: Value,
        _options: ExecuteOptions,
    ) -> Result<Output> {
        todo!()
    }
    pub fn spec(&self) -> &ConnectorSpec {
        todo!()
    }
}

#[allow(dead_code)]
struct Unused(
    HashMap<String, Arc<dyn ActionHandler>>,
    HttpConfig,
    ProviderClient,
    Arc<dyn TokenProvider>,
);
