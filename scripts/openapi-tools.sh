#!/usr/bin/env bash
# Installs the npm tools pinned in scripts/openapi/package.json (and its
# package-lock.json) when node_modules does not hold exactly those versions.
set -euo pipefail
cd "$(dirname "$0")/openapi"
if ! command -v npm >/dev/null 2>&1; then
  echo "openapi-tools: npm is needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
ok=$(node -e '
const want = require("./package.json").devDependencies;
let ok = true;
for (const [name, v] of Object.entries(want)) {
  try { if (require("./node_modules/" + name + "/package.json").version !== v) ok = false; } catch { ok = false; }
}
console.log(ok ? "yes" : "no");')
if [[ "$ok" != yes ]]; then
  echo "openapi-tools: installing the pinned npm tools (npm ci in scripts/openapi)"
  npm ci --no-audit --no-fund --loglevel=error
fi
