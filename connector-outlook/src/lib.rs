//! Outlook mail on Microsoft Graph v1.0: the connector (spec `specs/outlook.json` and its Rust
//! handlers) and, with the `sandbox` feature, an in-memory Graph emulator.
//!
//! (`spec()` and `connector()` join once connector-core's execute path lands.)

// `connector_core::ConnectorError` is core's type; its size is core's call, not this crate's.
#![allow(clippy::result_large_err)]

mod actions;
mod shape;
pub mod text;
mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use actions::handlers;

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
];

/// Scopes enough for every reading action.
pub const SCOPES_READONLY: &[&str] = &[
    "offline_access",
    "User.Read",
    "Mail.Read",
    "MailboxSettings.Read",
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
