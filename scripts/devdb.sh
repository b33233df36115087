#!/usr/bin/env bash
# devdb.sh - a private PostgreSQL 15 (+pgvector) cluster for development and tests.
#
# Usage: scripts/devdb.sh <command> [args]
#
#   url      Make sure the cluster exists and runs (initdb + start on first use),
#            then print its superuser URL on stdout, e.g.
#              postgres://postgres@127.0.0.1:55432/consilium?sslmode=disable
#            The database "consilium" is created if missing. Runs scripts/pgvector.sh
#            first. A warm call (cluster already running) is fast (well under 1 s).
#            Also writes .data/dev.env (see below).
#   status   Print "running <url>" (exit 0) or "stopped [<url>]" (exit 3) on stdout
#            (exit 4, nothing on stdout, if the data directory is not readable).
#   stop     Stop the cluster (pg_ctl stop -m fast). No error if it is not running.
#   psql     Start the cluster if needed and open psql on the consilium database;
#            extra arguments are passed to psql.
#   secret   Print the development JWT secret (.data/jwt-secret, made on first use).
#
# Only the requested value goes to stdout; progress and errors go to stderr.
#
# Layout (<repo> = the parent directory of this scripts/ directory):
#   <repo>/.data/pg        data directory; when running as root and the 'postgres' user
#                          cannot reach <repo>/.data (e.g. the repo is under /root), a
#                          symlink to /var/tmp/consilium-<hash of repo path>/pg
#   <repo>/.data/pg.port   TCP port on 127.0.0.1 (first free one from 55432, chosen once)
#   <repo>/.data/pg.log    server log (also initdb output)
#   <repo>/.data/pg.lock   serializes concurrent devdb.sh invocations
#   <repo>/.data/jwt-secret  the development JWT secret (make run signs tokens with it)
#   <repo>/.data/dev.env   DATABASE_URL=<url> and CONSILIUM_AUTH_JWT_SECRET=<secret>,
#                          rewritten whenever url or psql starts or finds the cluster:
#                          bin/consilium run in this checkout without --config,
#                          CONSILIUM_CONFIG or DATABASE_URL reads these two settings,
#                          so `./bin/consilium user create ...` beside `make run` works
#   <datadir>/consilium.conf  settings managed by this script, rewritten on every start
#                          (included from postgresql.conf; use ALTER SYSTEM to override)
#
# As root, initdb/pg_ctl run as the 'postgres' OS user (PostgreSQL refuses to run as
# root); otherwise as the current user.
#
# Environment: PG_BIN  directory holding initdb, pg_ctl, postgres, psql, pg_isready
#                      (default /usr/lib/postgresql/15/bin, else from pg_config/PATH)
set -euo pipefail

readonly PROG="devdb.sh"
readonly DB_NAME="consilium"
readonly DB_USER="postgres"
readonly FIRST_PORT=55432
readonly LAST_PORT=56431

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "${SCRIPT_DIR}/.." && pwd -P)
readonly SCRIPT_DIR REPO
readonly DATA="${REPO}/.data"
readonly PG_LINK="${DATA}/pg"
readonly PORT_FILE="${DATA}/pg.port"
readonly LOG_LINK="${DATA}/pg.log"
readonly LOCK_FILE="${DATA}/pg.lock"
readonly SECRET_FILE="${DATA}/jwt-secret"
readonly DEV_ENV="${DATA}/dev.env"

log() { printf '%s: %s\n' "${PROG}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${PROG}" "$*" >&2; exit 1; }

# Connection settings from the caller's environment must not redirect our own
# pg_isready/psql calls to some other server.
unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE \
  PGOPTIONS PGPASSWORD PGPASSFILE PGSSLMODE PGTARGETSESSIONATTRS PGCONNECT_TIMEOUT

# Globals set by the functions below.
PG_BIN=${PG_BIN:-}
DATADIR=""   # real data directory (target of the symlink, if any)
LOGFILE=""   # real log file
SYMLINKED=0  # 1 when DATADIR lives under /var/tmp and .data/pg is a symlink
OWNER=""     # OS user owning/running the cluster
RUN_AS=""    # non-empty: run initdb/pg_ctl via runuser/setpriv as this user
PORT=""

# ---------------------------------------------------------------------------
find_pg_bin() {
  if [[ -z "${PG_BIN}" ]]; then
    if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
      PG_BIN=/usr/lib/postgresql/15/bin
    elif command -v pg_config >/dev/null 2>&1; then
      PG_BIN=$(pg_config --bindir)
    elif command -v pg_ctl >/dev/null 2>&1; then
      PG_BIN=$(dirname -- "$(command -v pg_ctl)")
    else
      die "PostgreSQL 15 server binaries not found (Debian: apt-get install postgresql-15), or set PG_BIN"
    fi
  fi
  local t
  for t in initdb pg_ctl postgres psql pg_isready; do
    [[ -x "${PG_BIN}/${t}" ]] || die "${PG_BIN}/${t} not found (set PG_BIN to the PostgreSQL 15 bin directory)"
  done
}

make_url() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable\n' "${DB_USER}" "$1" "${DB_NAME}"; }

# Where the data directory is (no side effects).
locate() {
  if [[ -L "${PG_LINK}" ]]; then
    SYMLINKED=1
    DATADIR=$(readlink -- "${PG_LINK}")
    LOGFILE="$(dirname -- "${DATADIR}")/pg.log"
  else
    SYMLINKED=0
    DATADIR="${PG_LINK}"
    LOGFILE="${LOG_LINK}"
  fi
}

# Run a command as the cluster owner, from / (the caller's cwd may be unreadable
# for that user).
as_owner() {
  if [[ -z "${RUN_AS}" ]]; then
    (cd / && "$@")
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u "${RUN_AS}" -- "$@")
  else
    local gid
    gid=$(id -g "${RUN_AS}")
    (cd / && setpriv --reuid="${RUN_AS}" --regid="${gid}" --init-groups -- "$@")
  fi
}

# Decide OWNER/RUN_AS from the existing data directory or the defaults.
pick_owner() {
  local existing=""
  if [[ -e "${DATADIR}" ]]; then
    existing=$(stat -c %U -- "${DATADIR}")
  fi
  if [[ ${EUID} -eq 0 ]]; then
    if [[ -z "${existing}" || "${existing}" == root ]]; then
      id -u postgres >/dev/null 2>&1 ||
        die "running as root, but there is no 'postgres' OS user to run the server as (PostgreSQL refuses to run as root); create one (useradd --system --create-home postgres) or run this script as a normal user"
      OWNER=postgres
    else
      OWNER=${existing}
    fi
    RUN_AS=${OWNER}
    command -v runuser >/dev/null 2>&1 || command -v setpriv >/dev/null 2>&1 ||
      die "need runuser or setpriv (util-linux) to run PostgreSQL as '${OWNER}'"
  else
    OWNER=$(id -un)
    RUN_AS=""
    if [[ -n "${existing}" && "${existing}" != "${OWNER}" ]]; then
      die "${DATADIR} belongs to '${existing}'; run this script as '${existing}' or as root"
    fi
  fi
}

# For a new cluster: use <repo>/.data/pg if the owner can reach it, else
# /var/tmp/consilium-<hash>/pg behind a symlink.
choose_location() {
  SYMLINKED=0
  DATADIR="${PG_LINK}"
  LOGFILE="${LOG_LINK}"
  [[ -n "${RUN_AS}" ]] || return 0
  if as_owner test -x "${DATA}" 2>/dev/null; then
    return 0
  fi
  local hash base
  hash=$(printf '%s' "${REPO}" | sha256sum)
  base="/var/tmp/consilium-${hash:0:12}"
  log "user '${RUN_AS}' cannot reach ${DATA}; keeping the data in ${base} (symlinked from ${PG_LINK})"
  SYMLINKED=1
  DATADIR="${base}/pg"
  LOGFILE="${base}/pg.log"
}

pidfile_lines=()
read_pidfile() {
  pidfile_lines=()
  [[ -r "${DATADIR}/postmaster.pid" ]] || return 1
  mapfile -t pidfile_lines 2>/dev/null <"${DATADIR}/postmaster.pid" || return 1
  [[ "${pidfile_lines[0]:-}" =~ ^[0-9]+$ ]]
}

# Succeeds if this cluster's postmaster is alive; sets RUNNING_PID and
# pidfile_lines (line 4 = port).
RUNNING_PID=""
is_running() {
  RUNNING_PID=""
  read_pidfile || return 1
  local pid=${pidfile_lines[0]}
  if [[ -d /proc/self ]]; then
    # A postmaster's cwd is its data directory; this also rejects a stale
    # postmaster.pid whose PID now belongs to an unrelated process.
    [[ /proc/${pid}/cwd -ef "${DATADIR}" ]] || return 1
  else
    kill -0 "${pid}" 2>/dev/null || return 1
  fi
  RUNNING_PID=${pid}
}

# Postgres processes still running in a data directory that was deleted
# (rm -rf .data while the server ran) keep the port busy: shut them down.
kill_deleted_servers() {
  [[ -d /proc/self ]] || return 0
  local d comm target pids=() i
  for d in /proc/[0-9]*; do
    comm=""
    read -r comm 2>/dev/null <"${d}/comm" || continue
    [[ "${comm}" == postgres ]] || continue
    target=$(readlink -- "${d}/cwd" 2>/dev/null) || continue
    [[ "${target}" == "${DATADIR} (deleted)" ]] && pids+=("${d#/proc/}")
  done
  ((${#pids[@]})) || return 0
  log "shutting down server processes ${pids[*]} whose data directory ${DATADIR} was deleted"
  kill -QUIT "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "${pids[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
  log "warning: processes ${pids[*]} did not exit"
}

# An old cluster under /var/tmp whose .data/pg symlink was removed
# (rm -rf .data): the user asked for a fresh cluster, so discard it.
discard_orphan() {
  log "discarding ${DATADIR}: old cluster of this checkout whose ${PG_LINK} symlink was removed"
  if is_running; then
    as_owner "${PG_BIN}/pg_ctl" stop -D "${DATADIR}" -m immediate -w -t 30 -s >&2 || true
  fi
  rm -rf -- "${DATADIR}" "${DATADIR}.initdb-tmp"
}

# PIDs of any postgres processes still working in DATADIR (orphans of a crashed
# postmaster).
leftover_pids() {
  local d comm out=()
  for d in /proc/[0-9]*; do
    [[ "${d}/cwd" -ef "${DATADIR}" ]] || continue
    comm=""
    read -r comm 2>/dev/null <"${d}/comm" || true
    [[ "${comm}" == postgres || "${comm}" == postmaster ]] && out+=("${d#/proc/}")
  done
  ((${#out[@]} == 0)) || printf '%s\n' "${out[*]}"
}

port_busy() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# First free port from FIRST_PORT, skipping the ports given as arguments.
pick_port() {
  local p
  for ((p = FIRST_PORT; p <= LAST_PORT; p++)); do
    [[ " $* " == *" ${p} "* ]] && continue
    port_busy "${p}" && continue
    printf '%s\n' "${p}"
    return 0
  done
  die "no free TCP port on 127.0.0.1 in ${FIRST_PORT}-${LAST_PORT}"
}

save_port() {
  local cur=""
  [[ -f "${PORT_FILE}" ]] && cur=$(<"${PORT_FILE}")
  [[ "${cur}" == "${PORT}" ]] && return 0
  printf '%s\n' "${PORT}" >"${PORT_FILE}.tmp.$$"
  mv -f -- "${PORT_FILE}.tmp.$$" "${PORT_FILE}"
}

stored_port() {
  local p=""
  [[ -f "${PORT_FILE}" ]] && p=$(<"${PORT_FILE}")
  [[ "${p}" =~ ^[0-9]+$ ]] && ((p > 0 && p < 65536)) && printf '%s\n' "${p}"
  return 0
}

# Create (as root, for the owner) a file or directory that the owner must write.
give_to_owner() {
  [[ ${EUID} -eq 0 ]] || return 0
  chown "${OWNER}:$(id -gn "${OWNER}")" -- "$@"
}

ensure_logfile() {
  if [[ ! -e "${LOGFILE}" ]]; then
    : >>"${LOGFILE}"
    give_to_owner "${LOGFILE}"
  elif [[ ${EUID} -eq 0 && "$(stat -c %U -- "${LOGFILE}")" != "${OWNER}" ]]; then
    give_to_owner "${LOGFILE}" # the server (pg_ctl -l) must be able to append
  fi
  # Keep the log from growing without bound.
  local size
  size=$(stat -c %s -- "${LOGFILE}")
  if ((size > 64 * 1024 * 1024)); then
    mv -f -- "${LOGFILE}" "${LOGFILE}.1"
    : >>"${LOGFILE}"
    give_to_owner "${LOGFILE}"
  fi
  if ((SYMLINKED)) && [[ "$(readlink -- "${LOG_LINK}" 2>/dev/null || true)" != "${LOGFILE}" ]]; then
    ln -sfn -- "${LOGFILE}" "${LOG_LINK}"
  fi
}

pg_major() {
  local v
  v=$("${PG_BIN}/postgres" --version) # "postgres (PostgreSQL) 15.20 (Debian ...)"
  v=${v#*) }
  printf '%s\n' "${v%%[!0-9]*}"
}

init_cluster() {
  if ((SYMLINKED)); then
    local base
    base=$(dirname -- "${DATADIR}")
    if [[ ! -e "${base}" ]]; then
      mkdir -m 0755 -- "${base}"
    fi
    [[ -d "${base}" && ! -L "${base}" && -O "${base}" ]] ||
      die "${base} exists but is not a directory owned by $(id -un); remove it and retry"
  fi
  if [[ -e "${DATADIR}" ]]; then
    local entries
    entries=$(find "${DATADIR}" -mindepth 1 -maxdepth 1 -print -quit)
    [[ -d "${DATADIR}" && -z "${entries}" ]] ||
      die "${DATADIR} exists but is not a PostgreSQL cluster (no PG_VERSION); move it away or delete it and retry"
  fi
  local tmpdir="${DATADIR}.initdb-tmp" locale="C" locales
  locales=$(locale -a 2>/dev/null || true)
  if grep -qiE '^c\.utf-?8$' <<<"${locales}"; then
    locale="C.UTF-8"
  fi
  ensure_logfile
  log "initializing a new PostgreSQL $(pg_major) cluster in ${DATADIR} (owner ${OWNER}, locale ${locale})"
  rm -rf -- "${tmpdir}"
  mkdir -m 0700 -- "${tmpdir}"
  give_to_owner "${tmpdir}"
  if ! as_owner "${PG_BIN}/initdb" -D "${tmpdir}" --auth=trust -U "${DB_USER}" \
    --encoding=UTF8 --locale="${locale}" --no-instructions >>"${LOGFILE}" 2>&1; then
    tail -n 20 -- "${LOGFILE}" >&2 || true
    rm -rf -- "${tmpdir}"
    die "initdb failed (output above and in ${LOG_LINK})"
  fi
  printf "\n# Added by scripts/devdb.sh: port, sockets, memory etc.\ninclude_if_exists = 'consilium.conf'\n" \
    >>"${tmpdir}/postgresql.conf"
  if [[ -d "${DATADIR}" ]]; then
    rmdir -- "${DATADIR}"
  fi
  mv -- "${tmpdir}" "${DATADIR}"
  if ((SYMLINKED)); then
    ln -sfn -- "${DATADIR}" "${PG_LINK}"
    ln -sfn -- "${LOGFILE}" "${LOG_LINK}"
  fi
}

write_conf() {
  local port=$1 sockdir="${DATADIR}" conf="${DATADIR}/consilium.conf" want q="'"
  # Unix socket path (<dir>/.s.PGSQL.<port>) must stay short (limit ~107 bytes).
  if ((${#sockdir} + 15 >= 100)); then
    sockdir=/tmp
  fi
  sockdir=${sockdir//${q}/${q}${q}}
  want=$(
    cat <<EOF
# Managed by scripts/devdb.sh and rewritten on every start: do not edit.
# For local overrides use ALTER SYSTEM (postgresql.auto.conf wins over this file).
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${sockdir}'
max_connections = 200
shared_buffers = 256MB
# fsync stays on (dev data must survive crashes); only the last few
# milliseconds of commits may be lost after an OS crash.
synchronous_commit = off
EOF
  )
  if [[ -f "${conf}" && "$(<"${conf}")" == "${want}" ]]; then
    return 0
  fi
  printf '%s\n' "${want}" >"${conf}.tmp"
  chmod 0600 -- "${conf}.tmp"
  give_to_owner "${conf}.tmp"
  mv -f -- "${conf}.tmp" "${conf}"
  grep -q "^include_if_exists = 'consilium.conf'" -- "${DATADIR}/postgresql.conf" ||
    printf "\ninclude_if_exists = 'consilium.conf'\n" >>"${DATADIR}/postgresql.conf"
}

# Remove what an unclean stop (crash, kill -9, reboot) may leave behind so that it
# cannot wedge the next start. Only called when our postmaster is not running.
clear_stale() {
  [[ -d /proc/self ]] || return 0 # cannot inspect processes: let postgres decide
  local pids i
  pids=$(leftover_pids)
  for ((i = 0; i < 100 && ${#pids}; i++)); do
    ((i)) || log "waiting for leftover postgres processes of ${DATADIR} to exit: ${pids}"
    sleep 0.1
    pids=$(leftover_pids)
  done
  [[ -z "${pids}" ]] ||
    die "postgres processes ${pids} still use ${DATADIR} but their postmaster is gone; stop them (kill ${pids}) and retry"
  if read_pidfile; then
    log "removing stale postmaster.pid left by an unclean shutdown (PID ${pidfile_lines[0]} is no longer our server)"
    local sockdir=${pidfile_lines[4]:-} port=${pidfile_lines[3]:-}
    rm -f -- "${DATADIR}/postmaster.pid"
    if [[ -n "${sockdir}" && -n "${port}" && -f "${sockdir}/.s.PGSQL.${port}.lock" ]]; then
      local lockpid=""
      read -r lockpid 2>/dev/null <"${sockdir}/.s.PGSQL.${port}.lock" || true
      if [[ "${lockpid}" == "${pidfile_lines[0]}" ]]; then
        rm -f -- "${sockdir}/.s.PGSQL.${port}.lock" "${sockdir}/.s.PGSQL.${port}"
      fi
    fi
  elif [[ -e "${DATADIR}/postmaster.pid" ]]; then
    log "removing unreadable/garbled postmaster.pid"
    rm -f -- "${DATADIR}/postmaster.pid"
  fi
}

wait_ready() {
  local i
  for ((i = 0; i < 1200; i++)); do
    "${PG_BIN}/pg_isready" -q -h 127.0.0.1 -p "${PORT}" -U "${DB_USER}" -d postgres -t 2 && return 0
    ((i % 50 == 49)) && log "still waiting for PostgreSQL on 127.0.0.1:${PORT} ..."
    sleep 0.1
  done
  tail -n 20 -- "${LOGFILE}" >&2 || true
  die "PostgreSQL on 127.0.0.1:${PORT} did not become ready (log: ${LOG_LINK})"
}

start_cluster() {
  local attempt before newlog out tried=()
  for ((attempt = 1; attempt <= 5; attempt++)); do
    write_conf "${PORT}"
    ensure_logfile
    before=$(stat -c %s -- "${LOGFILE}")
    log "starting PostgreSQL on 127.0.0.1:${PORT} (log: ${LOG_LINK})"
    # 9>&- : the server must not inherit our lock. (With -l, pg_ctl points the
    # server's stdout/stderr at the log, so capturing pg_ctl's output is safe.)
    if out=$(as_owner "${PG_BIN}/pg_ctl" start -D "${DATADIR}" -l "${LOGFILE}" -w -t 120 -s 2>&1 9>&-); then
      [[ -z "${out}" ]] || printf '%s\n' "${out}" >&2
      return 0
    fi
    newlog=$(tail -c +"$((before + 1))" -- "${LOGFILE}" || true)
    if [[ "${newlog}" == *"could not bind"* || "${newlog}" == *"could not create any TCP/IP sockets"* ]] &&
      ! is_running; then
      tried+=("${PORT}")
      PORT=$(pick_port "${tried[@]}")
      log "port ${tried[-1]} is taken; switching to ${PORT}"
      save_port
      continue
    fi
    printf '%s\n' "${newlog}" | tail -n 30 >&2
    [[ -z "${out}" ]] || printf '%s\n' "${out}" >&2
    die "PostgreSQL failed to start (log above; full log: ${LOG_LINK})"
  done
  die "PostgreSQL failed to start: could not find a usable port (tried ${tried[*]})"
}

psql_admin() {
  "${PG_BIN}/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT}" -U "${DB_USER}" -d postgres "$@"
}

ensure_db() {
  local exists
  exists=$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'") ||
    die "cannot query the cluster on 127.0.0.1:${PORT}"
  if [[ "${exists}" != 1 ]]; then
    log "creating database ${DB_NAME}"
    psql_admin -c "CREATE DATABASE ${DB_NAME}" || die "CREATE DATABASE ${DB_NAME} failed"
  fi
}

take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  if [[ -e "${LOCK_FILE}" && ! -w "${LOCK_FILE}" ]] || [[ ! -e "${LOCK_FILE}" && ! -w "${DATA}" ]]; then
    die "cannot write ${LOCK_FILE}: ${DATA} belongs to '$(stat -c %U -- "${DATA}")'; run this script as that user or as root"
  fi
  exec 9>>"${LOCK_FILE}" || die "cannot open ${LOCK_FILE}"
  if ! flock -n 9; then
    log "waiting for another devdb.sh (lock ${LOCK_FILE}) ..."
    flock -w 300 9 || die "timed out waiting for ${LOCK_FILE}"
  fi
}

release_lock() { exec 9>&-; }

# Make sure the cluster is initialized and running; sets PORT.
ensure_running() {
  find_pg_bin
  if [[ -x "${PG_BIN}/pg_config" ]]; then
    export PG_CONFIG="${PG_BIN}/pg_config"
  fi
  "${SCRIPT_DIR}/pgvector.sh" >&2 ||
    die "pgvector (the 'vector' extension) is required; see the message above"
  if [[ ! -d "${DATA}" ]]; then
    mkdir -p -- "${DATA}"
  fi
  [[ -e "${DATA}/.gitignore" ]] || printf '*\n' 2>/dev/null >"${DATA}/.gitignore" || true
  take_lock
  locate
  if [[ -L "${PG_LINK}" && ! -d "${DATADIR}" ]]; then
    log "${PG_LINK} points to missing ${DATADIR}; creating a new cluster"
    rm -f -- "${PG_LINK}"
  fi
  pick_owner
  if [[ ! -e "${PG_LINK}" && ! -L "${PG_LINK}" ]]; then
    # New cluster.
    choose_location
    if ((SYMLINKED)) && [[ -e "${DATADIR}" ]]; then
      pick_owner
      discard_orphan
    fi
    kill_deleted_servers
    pick_owner
  fi

  if is_running; then
    # Fast path: already running; the pid file knows the port.
    PORT=${pidfile_lines[3]:-}
    [[ "${PORT}" =~ ^[0-9]+$ ]] || PORT=$(stored_port)
    wait_ready
    save_port
    ensure_db
    return 0
  fi

  if [[ ! -f "${DATADIR}/PG_VERSION" ]]; then
    init_cluster
  fi
  local have want
  have=$(<"${DATADIR}/PG_VERSION")
  want=$(pg_major)
  [[ "${have}" == "${want}" ]] ||
    die "${DATADIR} is a PostgreSQL ${have} cluster but ${PG_BIN} is PostgreSQL ${want}; delete ${PG_LINK} (losing its data) or set PG_BIN"

  clear_stale
  PORT=$(stored_port)
  if [[ -z "${PORT}" ]]; then
    PORT=$(pick_port)
  elif port_busy "${PORT}"; then
    local old=${PORT}
    PORT=$(pick_port "${old}")
    log "stored port ${old} is in use by something else; switching to ${PORT}"
  fi
  save_port
  start_cluster
  wait_ready
  ensure_db
}

# The development JWT secret, made once (48 random bytes, base64).
ensure_secret() {
  [[ -s "${SECRET_FILE}" ]] && return 0
  mkdir -p -- "${DATA}"
  (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n' >"${SECRET_FILE}.tmp.$$")
  mv -f -- "${SECRET_FILE}.tmp.$$" "${SECRET_FILE}"
}

# .data/dev.env: where bin/consilium finds this cluster (see the header).
write_dev_env() {
  ensure_secret
  local want
  want=$(
    cat <<EOF
# Written by scripts/devdb.sh: the development cluster of this checkout.
# bin/consilium reads these two settings when it is given no --config,
# CONSILIUM_CONFIG or DATABASE_URL. Rewritten on every start: do not edit.
DATABASE_URL=$(make_url "${PORT}")
CONSILIUM_AUTH_JWT_SECRET=$(<"${SECRET_FILE}")
EOF
  )
  if [[ -f "${DEV_ENV}" && "$(<"${DEV_ENV}")" == "${want}" ]]; then
    return 0
  fi
  (umask 077 && printf '%s\n' "${want}" >"${DEV_ENV}.tmp.$$")
  mv -f -- "${DEV_ENV}.tmp.$$" "${DEV_ENV}"
}

cmd_url() {
  ensure_running
  write_dev_env
  release_lock
  make_url "${PORT}"
}

cmd_secret() {
  ensure_secret
  cat -- "${SECRET_FILE}"
  echo
}

cmd_psql() {
  ensure_running
  write_dev_env
  release_lock
  exec "${PG_BIN}/psql" "$(make_url "${PORT}")" "$@"
}

cmd_stop() {
  if [[ ! -e "${PG_LINK}" ]]; then
    log "no cluster in ${PG_LINK}; nothing to stop"
    return 0
  fi
  find_pg_bin
  take_lock
  locate
  pick_owner
  if ! is_running; then
    log "not running"
    return 0
  fi
  local pid=${RUNNING_PID}
  log "stopping PostgreSQL (pid ${pid}, ${DATADIR})"
  if ! as_owner "${PG_BIN}/pg_ctl" stop -D "${DATADIR}" -m fast -w -t 60 -s >&2; then
    log "fast shutdown did not finish in 60 s; using immediate shutdown"
    as_owner "${PG_BIN}/pg_ctl" stop -D "${DATADIR}" -m immediate -w -t 30 -s >&2 ||
      die "could not stop PostgreSQL (pid ${pid})"
  fi
  log "stopped"
}

cmd_status() {
  locate
  if [[ -d "${DATADIR}" && ! -x "${DATADIR}" ]]; then
    log "cannot inspect ${DATADIR}: it belongs to '$(stat -c %U -- "${DATADIR}")'; run this script as that user or as root"
    return 4
  fi
  if [[ ! -f "${DATADIR}/PG_VERSION" ]]; then
    log "no cluster yet in ${PG_LINK} (create it with: scripts/devdb.sh url)"
    echo "stopped"
    return 3
  fi
  if is_running; then
    local pid=${RUNNING_PID}
    PORT=${pidfile_lines[3]:-$(stored_port)}
    find_pg_bin
    if "${PG_BIN}/pg_isready" -q -h 127.0.0.1 -p "${PORT}" -t 2; then
      log "pid ${pid}, data ${DATADIR}, log ${LOG_LINK}"
    else
      log "pid ${pid} is up but not (yet) accepting connections on 127.0.0.1:${PORT}; data ${DATADIR}, log ${LOG_LINK}"
    fi
    echo "running $(make_url "${PORT}")"
    return 0
  fi
  PORT=$(stored_port)
  log "data ${DATADIR}, log ${LOG_LINK}"
  if [[ -n "${PORT}" ]]; then
    echo "stopped $(make_url "${PORT}")"
  else
    echo "stopped"
  fi
  return 3
}

usage() {
  cat >&2 <<EOF
usage: scripts/devdb.sh <command> [args]
  url       ensure the private PostgreSQL cluster (${PG_LINK}) runs; print its URL
  status    print "running <url>" (exit 0) or "stopped [<url>]" (exit 3)
  stop      stop the cluster (no error if it is not running)
  psql      open psql on the ${DB_NAME} database (extra args go to psql)
  secret    print the development JWT secret (made on first use)
EOF
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case "${cmd}" in
  url) cmd_url ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  psql) cmd_psql "$@" ;;
  secret) cmd_secret ;;
  -h | --help | help)
    usage
    return 0
    ;;
  *)
    usage
    [[ -z "${cmd}" ]] || die "unknown command '${cmd}'"
    return 2
    ;;
  esac
}

main "$@"
