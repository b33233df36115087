#!/usr/bin/env bash
# make lint-openapi: Redocly's recommended rules on the OpenAPI document the
# API serves (printed by `consilium openapi`, no database needed). Installs
# the pinned @redocly/cli of scripts/openapi/ with npm on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=scripts/openapi
want=$(node -p "require('./$dir/package.json').devDependencies['@redocly/cli']")
have=$(node -p "try { require('./$dir/node_modules/@redocly/cli/package.json').version } catch { '' }")
if [[ "$have" != "$want" ]]; then
  echo "openapi-lint: installing @redocly/cli $want (npm ci in $dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./cmd/consilium openapi > "$tmp/openapi.json"
echo "openapi-lint: @redocly/cli $want, recommended rules"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1 \
  "$dir/node_modules/.bin/redocly" lint --extends recommended --format stylish "$tmp/openapi.json"
