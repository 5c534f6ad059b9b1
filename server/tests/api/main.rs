//! Integration tests through `create_app` (one test binary; a shared harness in `common`).

mod common;
mod conformance;

mod auth;
mod binary;
mod connectors;
mod execute;
mod openapi;
mod secrets;
