#!/usr/bin/env bash
# vulncheck.sh - govulncheck (pinned, see install-govulncheck.sh) over the
# root module and the SDK, against a vulnerability database built here
# from the pinned golang.org/x/vulndb module (the Go module proxy serves it;
# vuln.go.dev need not be reachable). Fails when our code calls a known
# vulnerable function of a dependency or of the standard library of the Go
# in use; a vulnerable package we import without calling the vulnerable
# function is reported by -show verbose only, as govulncheck does.
#
# To take newer advisories: raise VULNDB_VERSION to a newer pseudo-version
# of golang.org/x/vulndb (go list -m -versions does not list them; use
# `go list -m golang.org/x/vulndb@master`) and run this again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/go-toolchain.sh
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

govulncheck="$(bash scripts/install-govulncheck.sh)"
db="$PWD/bin/tools/vulndb-$VULNDB_VERSION"
if [[ ! -f "$db/index/modules.json" ]]; then
  # go mod download from an empty folder, so no go.mod is consulted or changed.
  tmp="$(mktemp -d)"
  dir="$(cd "$tmp" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  rmdir "$tmp"
  if [[ -z "$dir" || ! -d "$dir/data/osv" ]]; then
    echo "vulncheck: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv folder" >&2
    exit 1
  fi
  go run ./scripts/vulndb -osv "$dir/data/osv" -out "$db"
fi

status=0
echo "vulncheck: $("$govulncheck" -version 2>/dev/null | sed -n 's/^Scanner: //p'), $(go env GOVERSION), vulndb $VULNDB_VERSION"
"$govulncheck" -db "file://$db" ./... || status=$?
(cd sdk && "$govulncheck" -db "file://$db" ./...) || status=$?
if [[ "$status" != 0 ]]; then
  echo "vulncheck: FAILED: our code calls the vulnerable functions above (upgrade the module, or Go for the standard library)" >&2
fi
exit "$status"
