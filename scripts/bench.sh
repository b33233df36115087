#!/usr/bin/env bash
# make bench: the hot paths through the full HTTP stack on real Postgres.
# BENCH_SECONDS sets each timed run (default 10); BENCH selects benchmarks
# by regexp (default all).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/go-toolchain.sh

# What the benchmarks read, as make test installs it: WordNet (the local
# plugin's embeddings and the full-text expansion) and Tesseract.
for s in scripts/install-wordnet.sh scripts/install-tesseract.sh; do
  bash "$s"
done
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  TEST_DATABASE_URL="$(bash scripts/devdb.sh url)"
  export TEST_DATABASE_URL
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3), $(psql "$TEST_DATABASE_URL" -Atc 'show server_version' 2>/dev/null || echo 'postgres ?')"
pkgs=(./api/ ./plugins/clickup/) # BenchmarkClickUpSync: ~3 min (one limited run of ClickUp's 100 per minute)
pkgs+=(./plugins/gmail/) # BenchmarkGmailSync: 2,000 messages bootstrapped and scanned, ~1 min
[[ -d core/plugin ]] && pkgs+=(./core/plugin/)
[[ -d core/ai ]] && pkgs+=(./core/ai/) # RAG over 1M chunks (seeded once, ~25 min), embedding jobs
go test -run '^$' -bench "${BENCH:-.}" -benchtime 1x -timeout 60m "${pkgs[@]}"
