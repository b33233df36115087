#!/usr/bin/env bash
# install-tesseract.sh - make sure the Tesseract OCR engine (the `tesseract`
# command with English data) is installed; the `local` model plugin uses it to
# transcribe images.
#
# Usage: scripts/install-tesseract.sh
#
#   Exits 0 at once, silently, when `tesseract` is on PATH.
#   Otherwise, on Debian/Ubuntu as root, runs
#     apt-get install -y tesseract-ocr tesseract-ocr-eng
#   (with one `apt-get update` first when the package is not known yet).
#   When it cannot install (not root, no apt-get, no network) it exits
#   non-zero and says how to install Tesseract by hand.
#
# scripts/test.sh runs every scripts/install-*.sh before the tests.
# All messages go to stderr; nothing is printed on stdout.
set -euo pipefail

readonly PROG="install-tesseract.sh"
readonly PACKAGES=(tesseract-ocr tesseract-ocr-eng)
readonly LOCK_FILE="/var/lock/consilium-tesseract.lock"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

if command -v tesseract >/dev/null 2>&1; then
  exit 0
fi

manual_help() {
  {
    printf '%s: error: the Tesseract OCR engine (tesseract) is not installed and cannot be installed automatically: %s.\n' "$PROG" "$1"
    cat <<'HELP'
The `local` model plugin needs it to transcribe images; everything else works without it.
Install it by hand, one of:
  * Debian/Ubuntu:  sudo apt-get install tesseract-ocr tesseract-ocr-eng
  * Fedora:         sudo dnf install tesseract tesseract-langpack-eng
  * Alpine:         apk add tesseract-ocr tesseract-ocr-data-eng
  * Homebrew:       brew install tesseract
Afterwards `tesseract --version` must work.
HELP
  } >&2
  exit 1
}

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
  if command -v tesseract >/dev/null 2>&1; then
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

command -v tesseract >/dev/null 2>&1 || manual_help "apt-get install finished but \`tesseract\` is still not on PATH"
log "installed: $(tesseract --version 2>&1 | head -n 1)"
