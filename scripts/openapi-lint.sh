#!/usr/bin/env bash
# make lint-openapi: Redocly's recommended rules on the committed OpenAPI
# document api/openapi.yaml (a Go test keeps it equal to what the API
# serves; `make generate` rewrites it). Installs the pinned @redocly/cli of
# scripts/openapi/ with npm on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=scripts/openapi
bash scripts/openapi-tools.sh
want=$(node -p "require('./$dir/package.json').devDependencies['@redocly/cli']")
echo "openapi-lint: @redocly/cli $want, recommended rules, on api/openapi.yaml"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1 \
  "$dir/node_modules/.bin/redocly" lint --extends recommended --format stylish api/openapi.yaml
