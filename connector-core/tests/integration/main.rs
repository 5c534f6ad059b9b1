//! connector-core's integration tests: one test binary (one link), shared helpers in `common`
//! (a small spec, quick retries, a connector pointed at wiremock), one module per area.
//! Run one area with `cargo test -p connector-core --test integration retry::`.

mod common;

mod execute;
mod oauth;
mod pool;
mod retry;
mod spec_files;
mod validate_props;
