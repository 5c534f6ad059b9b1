//! Shared test harness.
#![allow(dead_code)]

pub mod contract;
#[cfg(feature = "sandbox")]
pub mod env;
