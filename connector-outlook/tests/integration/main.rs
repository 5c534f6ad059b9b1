//! The Outlook connector's integration tests: one test binary (one link), the shared harness in
//! `common` (a Graph emulator and a connector wired to it, the contract checker), one module
//! per area. Run one area with `cargo test -p connector-outlook --test integration e2e_read::`.

mod common;

mod contract_calendar;
mod contract_connector;
mod contract_emulator;
mod e2e_calendar;
mod e2e_limits;
mod e2e_read;
mod e2e_write;
mod exactly_once;
mod fuzz;
mod spec;
