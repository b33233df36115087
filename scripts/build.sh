#!/usr/bin/env bash
# make build: bin/consilium and every shipped plugin (plugins/NAME -> bin/plugins/NAME),
# saying what it builds. The first build compiles every dependency (a minute or two);
# while a build runs it says so every 15 s instead of staying silent.
#
# Environment: GO (default go), LDFLAGS (passed to go build -ldflags).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/go-toolchain.sh
GO=${GO:-go}
LDFLAGS=${LDFLAGS:-}

heartbeat=""
stop_heartbeat() {
  if [[ -n "${heartbeat}" ]]; then
    kill "${heartbeat}" 2>/dev/null || true
    wait "${heartbeat}" 2>/dev/null || true
    heartbeat=""
  fi
}
trap stop_heartbeat EXIT

# build LABEL OUTPUT PACKAGE: go build in the foreground (Ctrl-C stops it),
# a line every 15 s from the background while it runs.
build() {
  local label=$1 out=$2 pkg=$3
  printf '==> building %s (%s)…\n' "${label}" "${out}" >&2
  (
    s=0
    while sleep 15; do
      s=$((s + 15))
      printf '    still compiling %s (%d s; a first build compiles every dependency once)…\n' "${label}" "${s}" >&2
    done
  ) &
  heartbeat=$!
  "${GO}" build -ldflags "${LDFLAGS}" -o "${out}" "${pkg}"
  stop_heartbeat
}

build consilium bin/consilium ./cmd/consilium
mkdir -p bin/plugins
for main in plugins/*/main.go; do
  name=${main#plugins/}
  name=${name%/main.go}
  build "plugin ${name}" "bin/plugins/${name}" "./plugins/${name}"
done
