//! The Gmail connector's integration tests: one test binary (one link), the shared harness in
//! `common` (a Gmail sandbox on loopback and a connector pointed at it, the contract tables),
//! one module per area. Run one area with `cargo test -p connector-gmail --test integration e2e_write::`.

mod common;

mod contract_discovery;
mod contract_wire;
mod decode_never_panics;
mod e2e_auth;
mod e2e_bulk;
mod e2e_calendar;
mod e2e_errors;
mod e2e_messages;
mod e2e_settings;
mod e2e_sync;
mod e2e_write;
mod exactly_once;
mod fuzz;
mod injection;
mod message_views;
mod mime_corpus;
mod mime_malformed;
mod payload_direct;
mod shared_copies;
mod spec_file;
