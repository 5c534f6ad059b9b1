//! The API suite: tenants, connectors, execute, secrets, the OpenAPI document and the built
//! binary, through `create_app` with the harness in `common::harness`.

mod auth;
mod binary;
mod connectors;
mod execute;
mod openapi;
mod secrets;
