#!/usr/bin/env bash
# install-wordnet.sh - make sure the WordNet lexical database (Debian's
# wordnet-base: index.*, data.* and *.exc under /usr/share/wordnet) is
# installed; the `local` model plugin and full-text search use it to match
# other forms and relatives of a word ("taxes" → "tax", "pay" → "payment").
#
# Usage: scripts/install-wordnet.sh
#
#   Exits 0 at once, silently, when the database is there (the folder in
#   CONSILIUM_AI_WORDNET_DIR, default /usr/share/wordnet, holds index.noun).
#   Otherwise, on Debian/Ubuntu as root, runs
#     apt-get install -y wordnet-base
#   (with one `apt-get update` first when the package is not known yet).
#   When it cannot install (not root, no apt-get, no network) it exits
#   non-zero and says how to install WordNet by hand.
#
# scripts/test.sh runs every scripts/install-*.sh before the tests.
# All messages go to stderr; nothing is printed on stdout.
set -euo pipefail

readonly PROG="install-wordnet.sh"
readonly PACKAGES=(wordnet-base)
readonly DIR="${CONSILIUM_AI_WORDNET_DIR:-/usr/share/wordnet}"
readonly LOCK_FILE="/var/lock/consilium-wordnet.lock"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

present() { [[ -f "$DIR/index.noun" && -f "$DIR/data.noun" ]]; }

if present; then
  exit 0
fi

manual_help() {
  {
    printf '%s: error: the WordNet database is not in %s and cannot be installed automatically: %s.\n' "$PROG" "$DIR" "$1"
    cat <<'HELP'
The `local` model plugin and full-text search use it to match other forms of a word;
everything works without it, with weaker retrieval. Install it by hand, one of:
  * Debian/Ubuntu:  sudo apt-get install wordnet-base
  * elsewhere:      unpack WordNet 3.0's dict/ folder (index.*, data.*, *.exc) from
                    https://wordnet.princeton.edu/download and set ai.wordnet_dir
                    (CONSILIUM_AI_WORDNET_DIR) to it
Afterwards index.noun must be in that folder.
HELP
  } >&2
  exit 1
}

if [[ "$DIR" != /usr/share/wordnet ]]; then
  manual_help "CONSILIUM_AI_WORDNET_DIR names $DIR, and the package installs /usr/share/wordnet"
fi

reasons=()
if [[ $EUID -ne 0 ]]; then
  reasons+=("not running as root (EUID $EUID)")
fi
for cmd in apt-get apt-cache; do
  command -v "$cmd" >/dev/null 2>&1 || reasons+=("'$cmd' not found (automatic install supports Debian/Ubuntu only)")
done
if ((${#reasons[@]})); then
  why=$(printf '%s; ' "${reasons[@]}")
  manual_help "${why%; }"
fi

# Serialize concurrent runs (several test scripts at once).
if command -v flock >/dev/null 2>&1; then
  exec 8>"$LOCK_FILE"
  flock -w 900 8 || { log "timed out waiting for lock $LOCK_FILE"; exit 1; }
  if present; then
    exit 0
  fi
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-q -o Dpkg::Use-Pty=0)

known() {
  # apt-cache policy prints "Candidate: (none)" or nothing for unknown packages.
  local cand
  cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n "$cand" && "$cand" != "(none)" ]]
}

need_update=""
for p in "${PACKAGES[@]}"; do
  known "$p" || need_update=1
done
if [[ -n "$need_update" ]]; then
  log "apt-get update (the package lists do not know ${PACKAGES[*]} yet)"
  apt-get update "${APT_OPTS[@]}" >&2 || manual_help "apt-get update failed (is the Debian mirror reachable?)"
fi

log "installing ${PACKAGES[*]}"
apt-get install -y --no-install-recommends "${APT_OPTS[@]}" "${PACKAGES[@]}" >&2 ||
  manual_help "apt-get install ${PACKAGES[*]} failed"

present || manual_help "apt-get install finished but $DIR/index.noun is still missing"
log "installed: WordNet in $DIR"
