//! The Graph emulator over raw HTTP, the way any Graph client sees it: one test binary.

mod auth;
mod behaviour;
mod http;
mod writes;
