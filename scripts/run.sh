#!/usr/bin/env bash
# make run (after make build): get a database, make sure a JWT secret exists,
# migrate and serve API + workers, saying each step as it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*" >&2; }

started_db=""
if [[ -z "${DATABASE_URL:-}" ]]; then
  if bash scripts/devdb.sh status >/dev/null 2>&1; then
    step "using the Postgres cluster under .data/ (already running)"
  else
    started_db=1
    step "starting Postgres under .data/ (scripts/devdb.sh; the first time it creates the cluster, and installs pgvector if it is missing)…"
  fi
  DATABASE_URL="$(bash scripts/devdb.sh url)"
  export DATABASE_URL
  # devdb.sh wrote .data/dev.env: bin/consilium, run here without settings
  # of its own, finds this cluster and the secret through it.
  step "in another terminal, ./bin/consilium finds this database by itself (through .data/dev.env):"
  step "  CONSILIUM_NEW_PASSWORD='choose one' ./bin/consilium user create you@example.com --superuser"
  step "  ./bin/consilium plugins list"
else
  step "using the database at DATABASE_URL"
  # A remote server needs pgvector installed there; for a local one we can help.
  bash scripts/pgvector.sh >&2 || echo "warning: could not install pgvector locally; the database at DATABASE_URL must have it" >&2
fi

if [[ -z "${CONSILIUM_AUTH_JWT_SECRET:-}" ]]; then
  CONSILIUM_AUTH_JWT_SECRET="$(bash scripts/devdb.sh secret)"
  export CONSILIUM_AUTH_JWT_SECRET
fi
export CONSILIUM_DATABASE_AUTO_MIGRATE="${CONSILIUM_DATABASE_AUTO_MIGRATE:-true}"

stop_db() {
  if [[ -n "$started_db" ]]; then bash scripts/devdb.sh stop || true; fi
}
trap stop_db EXIT

step "starting consilium serve --with-worker: migrating the database, then serving the API and the workers…"
# Not exec: the trap must run after the server stops (Ctrl-C reaches both).
set +e
./bin/consilium serve --with-worker "$@"
code=$?
set -e
exit "$code"
