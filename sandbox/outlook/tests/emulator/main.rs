//! The Graph emulator over raw HTTP, the way any Graph client sees it: one test binary.

mod auth;
mod behaviour;
mod controls;
mod http;
mod notifications;
mod seed;
mod writes;
