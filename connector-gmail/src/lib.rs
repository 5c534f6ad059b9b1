//! The Gmail connector: a spec (`specs/gmail.json`) plus Rust handlers for the actions that need
//! code (MIME decoding, batch requests). Its emulator is the `sandbox-gmail` crate.
//!
//! ```no_run
//! # async fn demo() -> connector_core::Result<()> {
//! use std::sync::Arc;
//! use connector_core::{HttpConfig, Secret, StaticToken};
//! let gmail = connector_gmail::connector(
//!     Arc::new(StaticToken(Secret::new("ya29..."))),
//!     HttpConfig::new(connector_gmail::DEFAULT_BASE_URL),
//! )?;
//! let unread = gmail
//!     .execute("messages", "list", serde_json::json!({"q": "is:unread", "max_results": 10}))
//!     .await?;
//! # let _ = unread; Ok(()) }
//! ```

// `connector_core::ConnectorError` is core's type, returned by the agreed API (`connector()` and
// handlers); its size is core's call, not this crate's.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, OnceLock};

use connector_core::{CompiledSpec, Connector, ConnectorSpec, HttpConfig, Result, TokenProvider};

pub mod batch;
pub mod calendar;
pub mod compose;
mod descriptor;
pub mod events;
pub mod handlers;
pub mod message;
pub mod mime;
pub mod replica;

/// The connector definition id (stable across versions).
pub const DEFINITION_ID: &str = "f7833dac-fc18-4feb-a2a9-94b22001edc6";
/// Root of the Gmail API; request paths start with `/gmail/v1/...`.
pub const DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";
/// Google's OAuth 2.0 token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's OAuth 2.0 consent endpoint.
pub const AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's OAuth 2.0 revocation endpoint (RFC 7009).
pub const REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";

/// Scopes that let every action run, reading and writing: `https://mail.google.com/` (the only
/// scope that allows permanent deletion) and `gmail.settings.basic` (filters and the vacation
/// responder accept no other scope for writing); Google Calendar's
/// `https://www.googleapis.com/auth/calendar`.
/// `calendar` covers the calendar entities (one consent for mail and calendar).
pub const SCOPES_FULL: &[&str] = &[
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/gmail.settings.basic",
    calendar::SCOPE_FULL,
];
/// The narrowest scopes that let every reading action run (mail, labels, history and settings;
/// calendars, events and free/busy).
pub const SCOPES_READONLY: &[&str] = &[
    "https://www.googleapis.com/auth/gmail.readonly",
    calendar::SCOPE_READONLY,
];

/// The spec text, as shipped.
pub const SPEC_JSON: &str = include_str!("../../specs/gmail.json");

pub use descriptor::PROVIDER;
pub use handlers::GmailOptions;

/// The compiled Gmail spec (parsed and compiled once per process).
pub fn spec() -> Arc<CompiledSpec> {
    static SPEC: OnceLock<Arc<CompiledSpec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let spec = ConnectorSpec::from_json(SPEC_JSON).expect("specs/gmail.json parses");
        CompiledSpec::new(spec).expect("specs/gmail.json compiles")
    })
    .clone()
}

/// A Gmail connector over `http.base_url` (use [`DEFAULT_BASE_URL`] for Google, or a sandbox's
/// `base_url()`), authorized by `token`.
pub fn connector(token: Arc<dyn TokenProvider>, http: HttpConfig) -> Result<Connector> {
    connector_with_options(token, http, GmailOptions::default())
}

/// [`connector`] with non-default [`GmailOptions`] (e.g. the upload threshold).
pub fn connector_with_options(
    token: Arc<dyn TokenProvider>,
    http: HttpConfig,
    options: GmailOptions,
) -> Result<Connector> {
    let mut builder = Connector::builder(spec())
        .http(calendar::with_calendar_root(http))
        .token_provider(token);
    for (name, handler) in handlers::all(&options)
        .into_iter()
        .chain(calendar::handlers())
    {
        builder = builder.handler(name, handler);
    }
    builder.build()
}
