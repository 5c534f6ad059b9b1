//! Integration tests through `create_app` (one test binary; a shared harness in `common`).

mod common;

mod auth;
mod connectors;
mod secrets;
