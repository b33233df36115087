#!/usr/bin/env bash
# make run: get a database, make sure a JWT secret exists, serve API + workers.
set -euo pipefail
cd "$(dirname "$0")/.."

started_db=""
if [[ -z "${DATABASE_URL:-}" ]]; then
  if ! bash scripts/devdb.sh status >/dev/null 2>&1; then started_db=1; fi
  DATABASE_URL="$(bash scripts/devdb.sh url)"
  export DATABASE_URL
else
  # A remote server needs pgvector installed there; for a local one we can help.
  bash scripts/pgvector.sh >&2 || echo "warning: could not install pgvector locally; the database at DATABASE_URL must have it" >&2
fi

mkdir -p .data
if [[ -z "${CONSILIUM_AUTH_JWT_SECRET:-}" ]]; then
  if [[ ! -s .data/jwt-secret ]]; then
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n' > .data/jwt-secret)
  fi
  CONSILIUM_AUTH_JWT_SECRET="$(cat .data/jwt-secret)"
  export CONSILIUM_AUTH_JWT_SECRET
fi
export CONSILIUM_DATABASE_AUTO_MIGRATE="${CONSILIUM_DATABASE_AUTO_MIGRATE:-true}"

stop_db() {
  if [[ -n "$started_db" ]]; then bash scripts/devdb.sh stop || true; fi
}
trap stop_db EXIT

# Not exec: the trap must run after the server stops (Ctrl-C reaches both).
set +e
./bin/consilium serve --with-worker "$@"
code=$?
set -e
exit "$code"
