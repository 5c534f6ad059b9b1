//! The Gmail emulator over real HTTP, the way any Gmail client sees it: one test binary.

mod auth;
mod behaviour;
mod contract;
mod data;
mod read;
mod support;
mod uploads_faults;
mod write;
