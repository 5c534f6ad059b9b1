//! connector-core: what every connector shares.
//!
//! * [`spec`]: the spec model (entities, actions, params/result schemas, request mappings).
//! * [`validate`]: params validation with compiled, cached validators.
//! * [`connector`]: `execute(entity, action, params)` dispatch, declarative executor, handlers.
//! * [`http`]: the provider HTTP client (timeouts, keep-alive pool, retries, concurrency limit).
//! * [`auth`]: access tokens, OAuth refresh with single-flight, rotation callback.
//! * [`tools`]: tool definitions for agents (single execute tool; OpenAI, Anthropic, MCP).
//! * [`error`]: the one error table.
//! * [`provider`]: the provider descriptor, the one value a connector type is known by.
//! * [`params`]: typed params (a struct per handler, defaults as the spec declares them).
//! * [`wire`]: key case (snake_case params, camelCase wire) and path-segment encoding.
//! * [`mail`]: addresses, the outgoing message and the exactly-once send step.
//! * [`guard`]: send policies and approvals, judged for every call by its spec's effect.
//! * [`calendar`]: the one shape of calendar actions (`specs/schema/calendar.json`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use connector_core::{CompiledSpec, Connector, HttpConfig, StaticToken};
//! use serde_json::json;
//!
//! # async fn demo(spec_text: &str) -> connector_core::Result<()> {
//! // Compile a spec once (validators included) and share it across instances.
//! let spec = CompiledSpec::from_json(spec_text)?;
//! let gmail = Connector::builder(spec)
//!     .http(HttpConfig::new("https://gmail.googleapis.com"))
//!     .token_provider(Arc::new(StaticToken::new("ya29...")))
//!     .build()?;
//! let out = gmail.execute("messages", "list", json!({"max_results": 10})).await?;
//! println!("{} {:?}", out.result, out.metadata.get("next_page_token"));
//! # Ok(())
//! # }
//! ```

// `ConnectorError` keeps its provider details inline (public fields other crates match on);
// it is returned once per call, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod calendar;
pub mod changes;
pub mod connector;
pub mod error;
pub mod guard;
pub mod http;
pub mod introspection;
pub mod mail;
pub mod params;
pub mod provider;
pub mod replica;
pub mod search;
pub mod secret;
pub mod spec;
pub mod text;
pub mod tools;
pub mod validate;
pub mod windows_zones;
pub mod wire;

pub use auth::{OAuthCredentials, OAuthTokenSource, RefreshedTokens, StaticToken, TokenProvider};
pub use connector::{
    ActionHandler, CallContext, CompiledSpec, Connector, ConnectorBuilder, ExecuteOptions, Output,
};
pub use error::{ConnectorError, ErrorCode, Result};
pub use http::{HttpConfig, ProviderClient, ProviderRequest, ProviderResponse, RetryConfig};
pub use params::{typed, TypedHandler};
pub use provider::ProviderDescriptor;
pub use secret::Secret;
pub use spec::ConnectorSpec;
