//! One module per resource; each exposes `configure`.

pub mod apps;
pub mod attachments;
pub mod connect;
pub mod connector_types;
pub mod connectors;
pub mod credential;
pub mod events;
pub mod execute;
pub mod guardrails;
pub mod health;
pub mod mcp;
pub mod oauth;
pub mod oauth_apps;
pub mod oauth_server;
pub mod org_settings;
pub mod push;
pub mod tokens;

use actix_web::web;

/// Every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Execute first, MCP next: actix tries resources in order, and every dynamic pattern it
    // tries costs a regex match on each request, twice (the request log's route pattern
    // matches again). Last in the list, an MCP call paid about 25 of them: 56,000
    // instructions (issue 27). Neither path overlaps any other route (`/mcp...` and the
    // protected-resource metadata are MCP's alone), and execute stays before the generic
    // `/{id}` routes of connectors.
    execute::configure(cfg);
    mcp::configure(cfg);
    health::configure(cfg);
    tokens::configure(cfg);
    oauth_server::configure(cfg);
    apps::configure(cfg);
    attachments::configure(cfg);
    crate::metrics::configure(cfg);
    crate::openapi::configure(cfg);
    connector_types::configure(cfg);
    credential::configure(cfg);
    events::configure(cfg);
    push::configure(cfg);
    oauth::configure(cfg);
    connect::configure(cfg);
    org_settings::configure(cfg);
    guardrails::configure(cfg);
    oauth_apps::configure(cfg);
    connectors::configure(cfg);
}
