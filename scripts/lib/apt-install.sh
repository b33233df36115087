#!/usr/bin/env bash
# apt-install.sh - the one way the install-*.sh scripts install a Debian
# package: sourced, then `apt_install PROG CHECK HELP PACKAGE...` makes sure
# CHECK (a shell command) succeeds, installing PACKAGEs with apt-get (one
# `apt-get update` first when a package is not known yet) when it does not.
# Exits 0 at once when CHECK already succeeds. When it cannot install (not
# root, no apt-get, no network) it exits non-zero and prints HELP (how to
# install by hand). Concurrent runs are serialized with a lock per PROG.
# All messages go to stderr.

apt_install() {
  local prog=$1 check=$2 help=$3
  shift 3
  local packages=("$@")
  log() { printf '%s: %s\n' "$prog" "$*" >&2; }
  manual_help() {
    printf '%s: error: %s cannot be installed automatically: %s.\n%s\n' "$prog" "${packages[*]}" "$1" "$help" >&2
    exit 1
  }
  if eval "$check" >/dev/null 2>&1; then
    return 0
  fi
  local reasons=()
  if [[ $EUID -ne 0 ]]; then
    reasons+=("not running as root (EUID $EUID)")
  fi
  for cmd in apt-get apt-cache; do
    command -v "$cmd" >/dev/null 2>&1 || reasons+=("'$cmd' not found (automatic install supports Debian/Ubuntu only)")
  done
  if ((${#reasons[@]})); then
    local why
    why=$(printf '%s; ' "${reasons[@]}")
    manual_help "${why%; }"
  fi
  if command -v flock >/dev/null 2>&1; then
    exec 8>"/var/lock/consilium-${prog%.sh}.lock"
    flock -w 900 8 || { log "timed out waiting for the install lock"; exit 1; }
    if eval "$check" >/dev/null 2>&1; then
      return 0
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  local opts=(-q -o Dpkg::Use-Pty=0) need_update="" p cand
  for p in "${packages[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [[ -n "$cand" && "$cand" != "(none)" ]] || need_update=1
  done
  if [[ -n "$need_update" ]]; then
    log "apt-get update (the package lists do not know ${packages[*]} yet)"
    apt-get update "${opts[@]}" >&2 || manual_help "apt-get update failed (is the Debian mirror reachable?)"
  fi
  log "installing ${packages[*]}"
  apt-get install -y --no-install-recommends "${opts[@]}" "${packages[@]}" >&2 ||
    manual_help "apt-get install ${packages[*]} failed"
  eval "$check" >/dev/null 2>&1 || manual_help "apt-get install finished but \`$check\` still fails"
  log "installed ${packages[*]}"
}
