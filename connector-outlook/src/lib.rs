//! Outlook mail and calendar on Microsoft Graph v1.0: the connector (spec `specs/outlook.json` and its Rust
//! handlers). Its emulator is the `sandbox-outlook` crate.
//!
//! ```no_run
//! # async fn demo() -> connector_core::Result<()> {
//! use std::sync::Arc;
//! use connector_core::{HttpConfig, Secret, StaticToken};
//! let outlook = connector_outlook::connector(
//!     Arc::new(StaticToken(Secret::new("an access token"))),
//!     HttpConfig::new(connector_outlook::DEFAULT_BASE_URL),
//! )?;
//! let unread = outlook
//!     .execute("messages", "list", serde_json::json!({"folder": "inbox", "is_read": false}))
//!     .await?;
//! # Ok(()) }
//! ```

// `connector_core::ConnectorError` is core's type; its size is core's call, not this crate's.
#![allow(clippy::result_large_err)]

mod actions;
pub mod batch;
pub mod calendar;
mod descriptor;
pub mod events;
pub mod replica;
mod shape;
pub use connector_core::text;
mod wire;

use std::sync::{Arc, OnceLock};

use connector_core::{CompiledSpec, Connector, ConnectorSpec, HttpConfig, Result, TokenProvider};

pub use actions::handlers;
pub use descriptor::PROVIDER;

/// The connector definition id (stable; the server's connector type `outlook`).
pub const DEFINITION_ID: &str = "b8d1e0f2-3c4a-4f6e-9a7b-5d2c1e0f9a84";

/// Microsoft Graph v1.0.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com/v1.0";

/// Scopes to ask for at consent (reading and writing; `offline_access` for a refresh token).
pub const SCOPES: &[&str] = &[
    "offline_access",
    "User.Read",
    "Mail.ReadWrite",
    "Mail.Send",
    "MailboxSettings.ReadWrite",
    "Calendars.ReadWrite",
];

/// Scopes enough for every reading action.
pub const SCOPES_READONLY: &[&str] = &[
    "offline_access",
    "User.Read",
    "Mail.Read",
    "MailboxSettings.Read",
    "Calendars.Read",
];

/// Graph lets an app run 4 requests at once per mailbox; more draw 429 `MailboxConcurrency`.
pub const MAX_CONCURRENCY: usize = 4;

/// The spec text (`specs/outlook.json`).
pub const SPEC_JSON: &str = include_str!("../../specs/outlook.json");

/// The Microsoft identity platform token endpoint of a tenant (`common`, `organizations`,
/// `consumers` or a tenant id).
pub fn token_url(tenant: &str) -> String {
    let tenant = if tenant.is_empty() { "common" } else { tenant };
    format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
}

/// The Microsoft identity platform consent endpoint of a tenant.
pub fn authorize_url(tenant: &str) -> String {
    let tenant = if tenant.is_empty() { "common" } else { tenant };
    format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize")
}

/// The compiled spec, parsed once per process.
pub fn spec() -> Arc<CompiledSpec> {
    static SPEC: OnceLock<Arc<CompiledSpec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let spec = ConnectorSpec::from_json(SPEC_JSON).expect("specs/outlook.json parses");
        CompiledSpec::new(spec).expect("specs/outlook.json compiles")
    })
    .clone()
}

/// An Outlook connector with these credentials. At most [`MAX_CONCURRENCY`] requests run at
/// once (a lower `http.max_concurrency` is kept), so bursts queue instead of drawing 429s.
pub fn connector(token: Arc<dyn TokenProvider>, mut http: HttpConfig) -> Result<Connector> {
    http.max_concurrency = Some(
        http.max_concurrency
            .map_or(MAX_CONCURRENCY, |n| n.clamp(1, MAX_CONCURRENCY)),
    );
    let mut builder = Connector::builder(spec()).http(http).token_provider(token);
    for (name, handler) in actions::handlers() {
        builder = builder.handler(name, handler);
    }
    builder.build()
}
