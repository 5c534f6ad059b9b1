//! The server's integration tests: one test binary (one link), a shared harness in `common`
//! calling the real `create_app`, one module per area.
//!
//! Suites that need a service are gated inside the binary, not in binaries of their own:
//! the PostgreSQL halves (`store::*::postgres`, `idempotency`, `lifecycle::replicas`,
//! `replicas_pg`) ask `common::pgdb::fresh()` for a database, and the suites against the real
//! authorization server (`oidc_flow`, `lifecycle::issuer`) ask `common::auth_server::AuthServer::start`.
//! Both skip loudly outside CI when the service is missing and fail when `CI` is set
//! (scripts/ci/postgres.sh and scripts/ci/oidc.sh provide them).

mod common;

mod api;
mod apps;
mod attachments;
mod context;
mod custom_provider;
mod events;
mod guardrails;
mod hostile;
mod idempotency;
mod key_rotation;
mod lifecycle;
mod mcp;
mod metrics;
mod oauth_flow;
mod oidc_flow;
mod replicas_pg;
mod short_paths;
mod store;
