//! The Gmail emulator over real HTTP, the way any Gmail client sees it: one test binary.

mod auth;
mod behaviour;
mod calendar;
mod contract;
mod controls;
mod data;
mod limits;
mod read;
mod seed;
mod support;
mod uploads_faults;
mod write;
