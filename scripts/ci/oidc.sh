#!/usr/bin/env bash
# The OAuth authorization server of the end-to-end OAuth tests (server/tests/integration/oidc_flow): the npm
# package oidc-provider, pinned by server/tests/oidc/package-lock.json. Needs node >= 20 and npm.
# Quiet and idempotent: `npm ci` is skipped when node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../../server/tests/oidc"

command -v node >/dev/null || { echo "oidc.sh: node is not installed (node >= 20 is needed)" >&2; exit 1; }
command -v npm >/dev/null || { echo "oidc.sh: npm is not installed" >&2; exit 1; }

# npm writes node_modules/.package-lock.json after a complete install; when it equals the lock
# file's packages, nothing needs doing.
if [ -f node_modules/.package-lock.json ] && [ -f node_modules/oidc-provider/package.json ] &&
  node -e '
    const a = require("./package-lock.json").packages, b = require("./node_modules/.package-lock.json").packages;
    const strip = (p) => Object.fromEntries(Object.entries(p).filter(([k]) => k !== "").map(([k, v]) => [k, v.version + " " + v.integrity]));
    process.exit(JSON.stringify(strip(a)) === JSON.stringify(strip(b)) ? 0 : 1);' 2>/dev/null; then
  echo "oidc-provider $(node -p 'require("./node_modules/oidc-provider/package.json").version') already installed"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "oidc-provider $(node -p 'require("./node_modules/oidc-provider/package.json").version') installed (node $(node --version))"
