#!/usr/bin/env bash
# install-govulncheck.sh - make sure bin/tools/govulncheck is the pinned
# govulncheck (golang.org/x/vuln, version below), built from the Go module
# proxy with `go install` (its go.sum checked by the checksum database).
# Prints the binary's path.
#
# scripts/test.sh runs every scripts/install-*.sh before the tests;
# scripts/vulncheck.sh runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/go-toolchain.sh
GOVULNCHECK_VERSION=v1.9.0
bin="$PWD/bin/tools"
# Built by the Go in use: govulncheck loads our packages with the go/types
# of the Go that built it, which must know that Go's standard library.
want="$GOVULNCHECK_VERSION $(go env GOVERSION)"
stamp="$bin/govulncheck.version"
if [[ -x "$bin/govulncheck" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  echo "$bin/govulncheck"
  exit 0
fi
mkdir -p "$bin"
GOBIN="$bin" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" >&2
echo "$want" >"$stamp"
echo "$bin/govulncheck"
