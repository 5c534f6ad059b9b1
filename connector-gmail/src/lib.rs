//! The Gmail connector: a spec (`specs/gmail.json`) plus Rust handlers for the actions that need
//! code (MIME decoding, batch requests), and a sandbox emulator of the Gmail API (feature
//! `sandbox`).

pub mod batch;
pub mod handlers;
pub mod message;
pub mod mime;

/// The connector definition id (stable across versions).
pub const DEFINITION_ID: &str = "f7833dac-fc18-4feb-a2a9-94b22001edc6";
/// Root of the Gmail API; request paths start with `/gmail/v1/...`.
pub const DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";
/// Google's OAuth 2.0 token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Scopes to request for every action, reading and writing (`https://mail.google.com/` is the
/// only scope that allows permanent deletion).
pub const SCOPES_FULL: &[&str] = &["https://mail.google.com/"];
/// The narrowest scopes that let every reading action run: mail and settings read access.
pub const SCOPES_READONLY: &[&str] = &["https://www.googleapis.com/auth/gmail.readonly"];

/// The spec text, as shipped.
pub const SPEC_JSON: &str = include_str!("../../specs/gmail.json");
