#!/usr/bin/env bash
# The contract as a TypeScript client sees it: generates types from the
# committed api/openapi.yaml with openapi-typescript and compiles a small
# typed use of them (scripts/openapi/typed-use.ts) under tsc --strict.
# Installs the pinned npm tools of scripts/openapi/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=scripts/openapi
bash scripts/openapi-tools.sh
want=$(node -p "require('./$dir/package.json').devDependencies['openapi-typescript']")
tsv=$(node -p "require('./$dir/package.json').devDependencies['typescript']")
mkdir -p "$dir/generated"
echo "openapi-ts: openapi-typescript $want, typescript $tsv (tsc --strict)"
NO_UPDATE_NOTIFIER=1 "$dir/node_modules/.bin/openapi-typescript" api/openapi.yaml -o "$dir/generated/consilium.ts" --silent
"$dir/node_modules/.bin/tsc" -p "$dir/tsconfig.json"
echo "openapi-ts: the generated client compiles"
