//! Shared test harness.
#![allow(dead_code)]

pub mod contract;
pub mod env;
