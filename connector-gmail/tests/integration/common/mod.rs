//! Shared test harness.

pub mod contract;
pub mod env;
