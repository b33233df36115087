#!/usr/bin/env bash
# make test: every test of the root module and the SDK module, on real
# Postgres, with the race detector. Ends with go test's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

started_db=""
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  if ! bash scripts/devdb.sh status >/dev/null 2>&1; then started_db=1; fi
  TEST_DATABASE_URL="$(bash scripts/devdb.sh url)"
  export TEST_DATABASE_URL
fi
stop_db() {
  if [[ -n "$started_db" ]]; then bash scripts/devdb.sh stop >/dev/null 2>&1 || true; fi
}
trap stop_db EXIT

# Tools some tests need (pgvector is handled by devdb.sh).
for s in scripts/install-*.sh; do
  [[ -e "$s" ]] && bash "$s"
done

status=0
# The contract: Redocly's recommended rules on api/openapi.yaml and a
# TypeScript client generated from it compiled under tsc --strict (a Go
# test keeps the file equal to what the API serves).
bash scripts/openapi-lint.sh || status=$?
bash scripts/openapi-ts.sh || status=$?
if [[ -f sdk/go.mod ]]; then
  (cd sdk && go test -race -count=1 ./...) || status=$?
fi
go test -race -count=1 -timeout 15m ./... || status=$?
exit "$status"
