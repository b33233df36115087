#!/usr/bin/env bash
# pgvector.sh - make sure the PostgreSQL extension "vector" (pgvector) can be
# created (CREATE EXTENSION vector) on this machine's local PostgreSQL.
#
# Usage: scripts/pgvector.sh
#
#   Exits 0 immediately (and silently) when vector.control and vector.so are
#   already installed for the target PostgreSQL.
#
#   Otherwise (Debian/Ubuntu, as root) it builds pgvector from Debian trixie's
#   *source* package:
#     - adds a deb-src-only entry /etc/apt/sources.list.d/consilium-trixie-src.sources
#       (source packages only: apt never installs or upgrades binaries from it),
#     - installs postgresql-server-dev-<major>, dpkg-dev and build-essential if missing,
#     - apt-get source pgvector/trixie; make OPTFLAGS=""; make install.
#
#   When it cannot install (not root, no apt-get, ...) it exits non-zero and says
#   what is missing and how to install pgvector by hand.
#
# Environment:
#   PG_CONFIG  pg_config of the target PostgreSQL
#              (default: /usr/lib/postgresql/15/bin/pg_config, else pg_config in PATH)
#
# All messages go to stderr; nothing is printed on stdout.
set -euo pipefail

readonly PROG="pgvector.sh"
readonly SRC_LIST="/etc/apt/sources.list.d/consilium-trixie-src.sources"
readonly DEBIAN_KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
readonly LOCK_FILE="/var/lock/consilium-pgvector.lock"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# --- locate pg_config -------------------------------------------------------
if [[ -z "${PG_CONFIG:-}" ]]; then
  if [[ -x /usr/lib/postgresql/15/bin/pg_config ]]; then
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
  elif command -v pg_config >/dev/null 2>&1; then
    PG_CONFIG=$(command -v pg_config)
  else
    die "pg_config not found: install PostgreSQL 15 (Debian: apt-get install postgresql-15) or set PG_CONFIG=/path/to/pg_config"
  fi
fi
[[ -x "$PG_CONFIG" ]] || die "PG_CONFIG=$PG_CONFIG is not an executable pg_config"

SHAREDIR=$("$PG_CONFIG" --sharedir)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
CONTROL="$SHAREDIR/extension/vector.control"
MODULE="$PKGLIBDIR/vector.so"

installed() { [[ -f "$CONTROL" && -f "$MODULE" ]]; }

# --- fast path: already installed -------------------------------------------
if installed; then
  exit 0
fi

PG_VERSION_STR=$("$PG_CONFIG" --version)          # e.g. "PostgreSQL 15.20 (Debian ...)"
PG_MAJOR=${PG_VERSION_STR#PostgreSQL }
PG_MAJOR=${PG_MAJOR%%[!0-9]*}
[[ "$PG_MAJOR" =~ ^[0-9]+$ ]] || die "cannot parse PostgreSQL major version from '$PG_VERSION_STR' ($PG_CONFIG --version)"

missing_report() {
  local f
  for f in "$CONTROL" "$MODULE"; do
    [[ -f "$f" ]] || printf '  missing: %s\n' "$f"
  done
}

manual_help() {
  local why=$1
  {
    printf '%s: error: the PostgreSQL extension "vector" (pgvector) is not installed for %s (%s):\n' \
      "$PROG" "${PG_VERSION_STR%% (*}" "$PG_CONFIG"
    missing_report
    printf 'It cannot be installed automatically: %s.\n' "$why"
    cat <<EOF
Install it by hand, one of:
EOF
    if command -v apt-get >/dev/null 2>&1; then
      cat <<EOF
  * Debian/Ubuntu, as root:          sudo $0
      (adds a deb-src entry for Debian trixie and builds its pgvector 0.8.0 source package)
EOF
    fi
    cat <<EOF
  * Ubuntu or the apt.postgresql.org (PGDG) repository:
                                     sudo apt-get install postgresql-$PG_MAJOR-pgvector
  * Homebrew:                        brew install pgvector
  * from source (needs a C compiler, make and the PostgreSQL server headers,
    e.g. apt-get install build-essential postgresql-server-dev-$PG_MAJOR):
      git clone --branch v0.8.0 https://github.com/pgvector/pgvector.git
      cd pgvector && make OPTFLAGS="" PG_CONFIG=$PG_CONFIG
      sudo make install PG_CONFIG=$PG_CONFIG
Afterwards $CONTROL and $MODULE must exist.
EOF
  } >&2
  exit 1
}

# --- can we install automatically? ------------------------------------------
reasons=()
if [[ $EUID -ne 0 ]]; then
  reasons+=("not running as root (EUID $EUID; installing into $SHAREDIR needs root)")
fi
for cmd in apt-get dpkg-query; do
  command -v "$cmd" >/dev/null 2>&1 || reasons+=("'$cmd' not found (automatic install supports Debian/Ubuntu only)")
done
if ((${#reasons[@]})); then
  why=$(printf '%s; ' "${reasons[@]}")
  manual_help "${why%; }"
fi

# Serialize concurrent runs (e.g. parallel test processes calling devdb.sh).
if command -v flock >/dev/null 2>&1; then
  exec 8>"$LOCK_FILE"
  if ! flock -n 8; then
    log "another pgvector.sh is running; waiting for it (lock $LOCK_FILE) ..."
    flock -w 900 8 || die "timed out waiting for lock $LOCK_FILE"
  fi
  if installed; then
    log "pgvector was installed by a concurrent run"
    exit 0
  fi
fi

log "pgvector is not installed for ${PG_VERSION_STR%% (*}; building it from Debian trixie's source package (takes a while) ..."
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-q -o Dpkg::Use-Pty=0)

# --- deb-src entry for trixie -------------------------------------------------
# Pick a keyring that contains the trixie (Debian 13) archive keys.
signed_by=""
keys=""
if [[ -f "$DEBIAN_KEYRING" ]] && command -v gpg >/dev/null 2>&1; then
  keys=$(gpg --batch --show-keys --with-colons "$DEBIAN_KEYRING" 2>/dev/null || true)
fi
if [[ "$keys" == *"13/trixie"* ]]; then
  signed_by="$DEBIAN_KEYRING"
else
  for k in /usr/share/keyrings/debian-archive-trixie-automatic.gpg \
    /usr/share/keyrings/debian-archive-trixie-stable.gpg; do
    [[ -f "$k" ]] && signed_by+="${signed_by:+ }$k"
  done
  if [[ -z "$signed_by" && -f "$DEBIAN_KEYRING" ]] && ! command -v gpg >/dev/null 2>&1; then
    signed_by="$DEBIAN_KEYRING" # cannot inspect it; apt update will tell
  fi
fi
[[ -n "$signed_by" ]] ||
  die "no keyring with the Debian trixie archive keys found; upgrade the keyring (apt-get install debian-archive-keyring, >= 2023.3+deb12u2 on bookworm) and re-run"

want_list=$(
  cat <<EOF
# Managed by consilium scripts/pgvector.sh.
# Debian trixie SOURCE packages only (deb-src), used to build pgvector for the
# local PostgreSQL. No binary packages are installed or upgraded from here.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: $signed_by
EOF
)
if [[ ! -f "$SRC_LIST" ]] || [[ "$(cat "$SRC_LIST")" != "$want_list" ]]; then
  log "writing $SRC_LIST (deb-src only)"
  printf '%s\n' "$want_list" >"$SRC_LIST.tmp"
  chmod 0644 "$SRC_LIST.tmp"
  mv -f "$SRC_LIST.tmp" "$SRC_LIST"
fi

# --- build dependencies -----------------------------------------------------
pkg_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}
need=()
for p in "postgresql-server-dev-$PG_MAJOR" dpkg-dev build-essential; do
  pkg_installed "$p" || need+=("$p")
done

if ((${#need[@]})); then
  log "apt-get update (all sources)"
  apt-get update "${APT_OPTS[@]}" >&2 || die "apt-get update failed"
  log "installing build dependencies: ${need[*]}"
  apt-get install -y --no-install-recommends "${APT_OPTS[@]}" "${need[@]}" >&2 ||
    die "apt-get install ${need[*]} failed"
else
  # Only refresh the trixie deb-src index; leave the other lists alone.
  log "apt-get update (only $SRC_LIST)"
  apt-get update "${APT_OPTS[@]}" \
    -o Dir::Etc::SourceList="$SRC_LIST" \
    -o Dir::Etc::SourceParts=/nonexistent \
    -o APT::Get::List-Cleanup=0 >&2 || die "apt-get update of $SRC_LIST failed"
fi

[[ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ]] ||
  die "PostgreSQL server headers missing ($("$PG_CONFIG" --includedir-server)/postgres.h) even after installing postgresql-server-dev-$PG_MAJOR; is $PG_CONFIG the right pg_config?"

# --- fetch and build ---------------------------------------------------------
tmp=$(mktemp -d /tmp/consilium-pgvector.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Let apt download as its unprivileged sandbox user instead of warning about it.
if id -u _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi

log "apt-get source pgvector/trixie into $tmp"
(cd "$tmp" && apt-get source "${APT_OPTS[@]}" pgvector/trixie) >&2 ||
  die "apt-get source pgvector/trixie failed (is deb.debian.org reachable? see $SRC_LIST)"

srcdir=""
for d in "$tmp"/pgvector-*/; do
  [[ -f "$d/Makefile" ]] && srcdir=${d%/}
done
[[ -n "$srcdir" ]] || die "no pgvector source tree found in $tmp after apt-get source"
log "building ${srcdir##*/} against $PG_CONFIG"

build_log="$tmp/build.log"
run_logged() {
  if ! "$@" >>"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2 || true
    die "'$*' failed (last 40 lines of its output above)"
  fi
}
# OPTFLAGS="" disables -march=native so the .so also works on other CPUs.
jobs=$(nproc 2>/dev/null || echo 2)
run_logged make -C "$srcdir" -j"$jobs" PG_CONFIG="$PG_CONFIG" OPTFLAGS=""
run_logged make -C "$srcdir" install PG_CONFIG="$PG_CONFIG" OPTFLAGS=""

installed || die "make install finished but $CONTROL or $MODULE is still missing"
log "pgvector ${srcdir##*/pgvector-} installed: $CONTROL, $MODULE"
