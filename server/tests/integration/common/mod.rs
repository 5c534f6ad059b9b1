//! The harness every suite shares.
//!
//! - `harness`: an organization, its application and a connector on the Gmail emulator, and
//!   requests through `create_app` whose responses are checked against the OpenAPI document;
//! - `tenant_api`: an organization set up through the API, and a conformance-checked call as it;
//! - `conformance`: the OpenAPI document and the checks of requests and responses against it;
//! - `pgdb`: a PostgreSQL database of its own per test (gated: see the crate doc);
//! - `auth_server`: the real OAuth authorization server (node `oidc-provider`, gated) and a
//!   browser that drives its consent.

pub mod auth_server;
pub mod conformance;
pub mod harness;
pub mod pgdb;
pub mod tenant_api;
