#!/usr/bin/env bash
# make test: every test of the root module and the SDK module, on real
# Postgres, with the race detector. Ends with go test's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/go-toolchain.sh

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

# The secrets check: tests register every secret they issue and their
# servers log into this folder (core/testsecrets); scripts/secretscan
# then fails when a secret is in a log.
CONSILIUM_SECRETS_LOG="$(mktemp -d "${TMPDIR:-/tmp}/consilium-secrets.XXXXXX")"
export CONSILIUM_SECRETS_LOG
trap 'stop_db; rm -rf "$CONSILIUM_SECRETS_LOG"' EXIT

status=0
# gofmt, go vet and staticcheck on both modules (make lint), so that
# what lint finds cannot land.
make --no-print-directory lint || status=$?
# The contract: Redocly's recommended rules on api/openapi.yaml and a
# TypeScript client generated from it compiled under tsc --strict (a Go
# test keeps the file equal to what the API serves).
bash scripts/openapi-lint.sh || status=$?
bash scripts/openapi-ts.sh || status=$?
# Known vulnerabilities our code calls, in dependencies and in the
# standard library of the Go in use.
bash scripts/vulncheck.sh || status=$?
# Every fuzz target for a short time (FUZZTIME, 5s each here to keep CI's
# added time near two minutes with govulncheck; make fuzz runs them 5m).
# A failure is a real bug: its input is left in the package's
# testdata/fuzz.
FUZZTIME="${FUZZTIME:-5s}" bash scripts/fuzz.sh || status=$?
go test -race -count=1 -timeout 15m ./... || status=$?
# The mail corpus's extraction figures (go test shows a passing test's
# output only with -v): precision and recall of the offline rules, and of
# the model path when a recording exists (failures are the run above's).
go test -count=1 -run '^TestMailCorpus' -v ./core/integration/ 2>&1 | grep -E 'mail_corpus_test.go' || true
# The secrets check reads what the root module's tests logged. The SDK's
# tests run last, so that the run ends with go test's summary.
go run ./scripts/secretscan -dir "$CONSILIUM_SECRETS_LOG" || status=$?
if [[ -f sdk/go.mod ]]; then
  (cd sdk && go test -race -count=1 ./...) || status=$?
fi
exit "$status"
