//! Responses that several routes document in the same words, written once: each type stands in
//! a `#[utoipa::path]`'s `responses(...)` list where its tuple stood, and adds the same response
//! to the document (`ErrorBody` by reference; the connect pages' HTML as a string). Responses
//! every route can give (401/403, 400/413, 404, 500) are added by [`crate::openapi`]'s
//! conventions instead; these are the ones whose words a route chooses.
//!
//! The types are never built: they only describe.
#![allow(dead_code)]

use api_types::ErrorBody;
use utoipa::IntoResponses;

/// 404 of a route under `/connectors/{id}`.
#[derive(IntoResponses)]
#[response(status = 404, description = "`not_found`: no such connector")]
pub struct ConnectorNotFound(ErrorBody);

/// 400 of a body that names a field wrongly.
#[derive(IntoResponses)]
#[response(status = 400, description = "`invalid_params`: the field and the fix")]
pub struct InvalidField(ErrorBody);

/// 404 of a route under `/approvals/{id}`.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "`not_found`: no such approval in this organization"
)]
pub struct ApprovalNotFound(ErrorBody);

/// 409 of a decision on an approval that is no longer pending.
#[derive(IntoResponses)]
#[response(status = 409, description = "`conflict`: decided already, or expired")]
pub struct ApprovalDecided(ErrorBody);

/// 404 of a connect page whose link is unknown.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "Unknown link: an HTML page",
    content_type = "text/html"
)]
pub struct UnknownLinkPage(String);

/// 500 of a connect page.
#[derive(IntoResponses)]
#[response(
    status = 500,
    description = "Internal error: an HTML page",
    content_type = "text/html"
)]
pub struct InternalErrorPage(String);

/// What an MCP endpoint refuses besides a missing token: another organization, a client that
/// cannot take both answer forms, a body that is not JSON.
#[derive(IntoResponses)]
pub enum McpRefusals {
    #[response(
        status = 403,
        description = "`X-Organization-Id` names another organization"
    )]
    OtherOrganization(ErrorBody),
    #[response(
        status = 406,
        description = "The client does not accept both `application/json` and `text/event-stream`",
        content_type = "text/plain"
    )]
    NotAcceptable(String),
    #[response(
        status = 415,
        description = "The body is not `application/json`",
        content_type = "text/plain"
    )]
    NotJson(String),
}
