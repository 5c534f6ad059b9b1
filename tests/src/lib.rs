//! Cross-crate end-to-end tests and fixtures.
