#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace, then the Python package in a fresh venv.
# Used by README and by .ci/run. Needs the Rust toolchain, python3 with pip, and network access
# to the package registries (crates.io, PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc
bash python/ci.sh
