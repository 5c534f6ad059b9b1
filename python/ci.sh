#!/usr/bin/env bash
# CI for the Python package: a fresh virtual environment, `pip install ./python` through the
# maturin build backend, the stub check, then pytest (which must find and pass tests).
#
#   bash python/ci.sh            # from the repository root or anywhere
#
# Env: PYTHON (interpreter, default python3), CI_VENV (venv path, default a fresh temp dir),
# PY_BUILD_PROFILE (cargo profile of the extension: dev (default, faster to build) or release),
# CARGO_TARGET_DIR (shared build cache, as .ci/run sets it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
PYTHON="${PYTHON:-python3}"
profile="${PY_BUILD_PROFILE:-dev}"
scratch="$(mktemp -d /tmp/agent-connectors-ci.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
venv="${CI_VENV:-$scratch/venv}"

step() { printf '\n=== python: %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "fresh venv at $venv"
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip

step "pip install ./python (maturin build backend, profile $profile)"
# The build backend reads extra maturin arguments from this variable.
export MATURIN_PEP517_ARGS="--profile $profile"
"$py" -m pip install --quiet "$root/python[test,frameworks]"

step "Airbyte's Gmail client, for the compatibility test (it declares Python >= 3.13, runs on 3.10+)"
"$py" -m pip install --quiet --ignore-requires-python "airbyte-agent-gmail==0.1.31"

step "server binary for the hosted-mode tests"
(cd "$root" && cargo build --quiet --bin connectors)
export AGENT_CONNECTORS_SERVER_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/connectors"
test -x "$AGENT_CONNECTORS_SERVER_BIN"

# Run from outside the source tree so the installed package (with its native module) is tested.
mkdir -p "$scratch/run" && cd "$scratch/run"

step "stubtest (the .pyi stubs match the native module and the package)"
"$py" -m mypy.stubtest agent_connectors --allowlist "$here/stubtest-allowlist.txt"

step "mypy --strict on the tests (the public API type-checks as users write it)"
"$py" -m mypy --strict --python-version 3.10 "$here/tests"

step "pytest"
set +e
"$py" -m pytest -c "$here/pyproject.toml" --rootdir "$here" -p no:cacheprovider -q "$here/tests"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
