//! Shared test harness.

pub mod contract;
pub mod harness;
