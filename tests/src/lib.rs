//! Cross-crate end-to-end tests and fixtures, and the benchmark suite of issue 12
//! (`cargo run --release -p tests --bin bench`, see `docs/benchmarks.md`).

pub mod bench;
