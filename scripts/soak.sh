#!/usr/bin/env bash
# make soak: build, then run cmd/soak against a fresh database (consilium_soak)
# in DATABASE_URL's server or the private cluster under .data/. Writes
# docs/soak/report.md, soak.png, ops.csv and samples.csv; exits non-zero when
# a check fails (a 5xx, a lost write, growth that does not level off).
#
# Environment: SOAK_DURATION (default 10m), SOAK_RATE (operations/s, default 20),
# SOAK_USERS (default 4), SOAK_OUT (default docs/soak).
set -euo pipefail
cd "$(dirname "$0")/.."

base="${DATABASE_URL:-}"
if [[ -z "${base}" ]]; then
  base="$(bash scripts/devdb.sh url)"
fi
# The same server, database consilium_soak, created afresh.
admin="${base%%\?*}"; query=""
[[ "${base}" == *\?* ]] && query="?${base#*\?}"
admin="${admin%/*}/postgres${query}"
soak_url="${base%%\?*}"; soak_url="${soak_url%/*}/consilium_soak${query}"
psql "${admin}" -qAtc 'DROP DATABASE IF EXISTS consilium_soak WITH (FORCE)' >/dev/null
psql "${admin}" -qAtc 'CREATE DATABASE consilium_soak' >/dev/null

bash scripts/build.sh
go build -o bin/soak ./cmd/soak
DATABASE_URL="${soak_url}" ./bin/soak -duration "${SOAK_DURATION:-10m}" -rate "${SOAK_RATE:-20}" \
  -users "${SOAK_USERS:-4}" -out "${SOAK_OUT:-docs/soak}"
