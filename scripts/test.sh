#!/usr/bin/env bash
# Runs every test of the project. Used by README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc
