#!/usr/bin/env bash
# fuzz.sh - run every fuzz target (go test -fuzz) for FUZZTIME each
# (default 10s; scripts/test.sh sets 5s, make fuzz 5m). go test -fuzz
# takes one package and one target at a time, so they run one after the
# other. A target that fails leaves its input under the package's
# testdata/fuzz/<Target>/: fix the bug in core and commit that file, so
# the input stays in the corpus that every `go test` runs.
#
# Needs TEST_DATABASE_URL for the api targets (scripts/test.sh sets it;
# otherwise: export TEST_DATABASE_URL=$(bash scripts/devdb.sh url)).
# FUZZ_TARGETS="FuzzRewrite FuzzWireDecode" runs only those.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/go-toolchain.sh
FUZZTIME="${FUZZTIME:-10s}"

# module dir | package | target
targets=(
  ". ./core/blocknote FuzzExtract"
  ". ./core/blocknote FuzzRewrite"
  ". ./core/jsonvalue FuzzCanonical"
  ". ./core/field FuzzObject"
  ". ./api FuzzCheckBody"
  ". ./api FuzzClientEvent"
  ". ./api FuzzRequestBody"
  "sdk . FuzzValidName"
  "sdk . FuzzWireDecode"
  "sdk ./host FuzzWireError"
)

# Every FuzzXxx of the repository is in the list: a new one is fuzzed in
# CI the day it lands, or this fails.
listed=" ${targets[*]} "
missing=""
while IFS= read -r name; do
  [[ "$listed" == *" $name "* ]] || missing+=" $name"
done < <(git ls-files '*_test.go' | xargs grep -ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/^func //' | sort -u)
if [[ -n "$missing" ]]; then
  echo "fuzz.sh: fuzz targets not listed in scripts/fuzz.sh:$missing" >&2
  exit 1
fi

status=0
start=$SECONDS
bindir="$PWD/bin/fuzz"
mkdir -p "$bindir"
cachedir="$(go env GOCACHE)/fuzz"
declare -A built
for t in "${targets[@]}"; do
  read -r mod pkg name <<<"$t"
  if [[ -n "${FUZZ_TARGETS:-}" && " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  # One instrumented test binary a package (go test -fuzz would build and
  # link it again for every target), run in the package's folder so that
  # a failing input lands in its testdata/fuzz.
  dir="$(cd "$mod/$pkg" && pwd)"
  importpath="$(cd "$dir" && go list .)"
  bin="$bindir/$(tr '/.' '__' <<<"$importpath").test"
  if [[ -z "${built[$bin]:-}" ]]; then
    (cd "$dir" && go test -c -fuzz "^$name\$" -o "$bin" .)
    built[$bin]=1
  fi
  t0=$SECONDS
  if out="$(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^$name\$" -test.fuzztime "$FUZZTIME" \
    -test.fuzzcachedir "$cachedir/$importpath" 2>&1)"; then
    echo "fuzz: ok   $name ($importpath, $((SECONDS - t0))s): $(grep -o 'execs: [0-9]*' <<<"$out" | tail -1)"
  else
    status=1
    echo "$out" | tail -40
    echo "fuzz: FAIL $name ($importpath): its input is under $dir/testdata/fuzz/$name/; fix the bug and commit the input" >&2
  fi
done
echo "fuzz: $((SECONDS - start))s for ${#targets[@]} targets at FUZZTIME=$FUZZTIME"
exit "$status"
