#!/usr/bin/env bash
# docker-prove.sh - build the Docker image with the normal Dockerfile on a
# machine that reaches no image registry, run it against the development
# Postgres and check that it serves. Not part of `make test`.
#
# Usage: scripts/docker-prove.sh [--clean]
#
#   1. A Docker engine: the one `docker info` reaches, else a private dockerd
#      started here (apt-get install docker.io debootstrap first), with its
#      data under .data/docker-prove/engine and stopped again at the end.
#   2. The base images the Dockerfile names, unless the engine has them
#      already (pulled from a registry, or made by an earlier run):
#        debian:bookworm-slim  debootstrap --variant=minbase bookworm, with the
#                              official slim image's apt sources and dpkg
#                              excludes, then `docker import`
#        golang:1.26-bookworm  that image plus ca-certificates, the host's own
#                              CAs (/usr/local/share/ca-certificates: an
#                              egress proxy's, so that the module proxy is
#                              reached as from the host) and a Go 1.26
#                              toolchain: the host's GOROOT when it is 1.26,
#                              else golang.org/toolchain from the module proxy
#      The Dockerfile is not changed: where a registry is reachable, a plain
#      `docker build .` keeps pulling the official images.
#   3. docker build --network=host (apt-get and the Go module proxy are
#      reached from the build; the engine's bridge is not needed).
#   4. A fresh database in the dev cluster (scripts/devdb.sh url), `migrate up`
#      from the image, then the image's default command (serve --with-worker)
#      with --network=host, and the checks: Docker's HEALTHCHECK turns
#      healthy, GET /readyz answers 200, POST /api/auth/register answers 201
#      with a token pair and GET /api/users/me takes it, the process runs as
#      uid 10001, tesseract and WordNet are in the image, every shipped plugin
#      binary starts and describes itself (consilium plugins check; their
#      calls to outside providers fail offline and are only shown) and the
#      offline local plugin runs (consilium plugins list).
#   5. Prints the image size and the time taken, and removes its containers,
#      its database and the debootstrap folder (also on failure).
#
# Runs again with the same result (the base images and the engine's build
# cache stay, so a second run is quicker). --clean removes the local base
# images, the image and the private engine's data instead, and exits.
#
# Environment: IMAGE (default consilium:prove), DEBIAN_MIRROR (default
# http://deb.debian.org/debian), KEEP_DOCKERD=1 leaves a private dockerd running.
set -euo pipefail

readonly PROG=docker-prove.sh
REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly REPO
readonly WORK="${REPO}/.data/docker-prove"
readonly IMAGE="${IMAGE:-consilium:prove}"
readonly MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly CONTAINER=consilium-prove
readonly DBNAME=consilium_docker_prove
# The names the Dockerfile's FROM lines use.
DEBIAN_IMAGE=$(awk '$1 == "FROM" && $2 ~ /^debian:/ {print $2; exit}' "${REPO}/Dockerfile")
GO_IMAGE=$(awk '$1 == "FROM" && $2 ~ /^golang:/ {print $2; exit}' "${REPO}/Dockerfile")
readonly DEBIAN_IMAGE GO_IMAGE

log() { printf '%s: %s\n' "${PROG}" "$*" >&2; }
die() { log "error: $*"; exit 1; }
start=$(date +%s)
step_start=${start}
step() {
  local now
  now=$(date +%s)
  printf '\n==> [%3ds] %s\n' "$((now - start))" "$*" >&2
  step_start=${now}
}
took() { log "  took $(($(date +%s) - step_start))s"; }
# remove_tree DIR: rm -rf that never leaves DIR's file system. debootstrap
# mounts proc (and, in a container, binds /dev) inside its target; a run
# that failed half-way may leave them mounted.
remove_tree() {
  local dir=$1 m
  [[ -e "${dir}" ]] || return 0
  awk -v d="${dir}/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "${m}" || true; done
  rm -rf --one-file-system "${dir}"
}

[[ -n "${DEBIAN_IMAGE}" && -n "${GO_IMAGE}" ]] || die "the Dockerfile names no debian: and golang: image in its FROM lines"
[[ ${EUID} -eq 0 ]] || die "run as root (debootstrap and dockerd need it)"
command -v docker >/dev/null || die "no docker client: apt-get install docker.io"

# ---- 1. the engine ---------------------------------------------------------
own_dockerd=""
cleanup_steps=()
cleanup() {
  local rc=$?
  set +e
  local i
  for ((i = ${#cleanup_steps[@]} - 1; i >= 0; i--)); do
    eval "${cleanup_steps[i]}"
  done
  if [[ -n "${own_dockerd}" && "${KEEP_DOCKERD:-}" != 1 ]]; then
    log "stopping the private dockerd (pid ${own_dockerd})"
    kill "${own_dockerd}" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "${own_dockerd}" 2>/dev/null || break; sleep 0.5; done
  fi
  remove_tree "${WORK}/rootfs"
  remove_tree "${WORK}/gocontext"
  if [[ ${rc} -ne 0 ]]; then
    log "FAILED after $(($(date +%s) - start))s"
  fi
  exit "${rc}"
}
trap cleanup EXIT

step "Docker engine"
if docker info >/dev/null 2>&1; then
  log "using the engine docker info reaches ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
else
  command -v dockerd >/dev/null || die "no engine runs and dockerd is not installed: apt-get install docker.io"
  mkdir -p "${WORK}/engine"
  sock="${WORK}/engine/docker.sock"
  export DOCKER_HOST="unix://${sock}"
  for driver in overlay2 vfs; do
    log "starting a private dockerd (storage driver ${driver}; log ${WORK}/engine/dockerd.log)"
    rm -f "${sock}"
    dockerd --data-root "${WORK}/engine/root" --exec-root "${WORK}/engine/exec" \
      --pidfile "${WORK}/engine/dockerd.pid" -H "${DOCKER_HOST}" --storage-driver="${driver}" \
      >"${WORK}/engine/dockerd.log" 2>&1 &
    own_dockerd=$!
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      kill -0 "${own_dockerd}" 2>/dev/null || break
      sleep 0.5
    done
    docker info >/dev/null 2>&1 && break
    kill "${own_dockerd}" 2>/dev/null; wait "${own_dockerd}" 2>/dev/null || true
    own_dockerd=""
    tail -5 "${WORK}/engine/dockerd.log" >&2
  done
  [[ -n "${own_dockerd}" ]] || die "dockerd did not start (see ${WORK}/engine/dockerd.log)"
  log "dockerd $(docker version -f '{{.Server.Version}}') runs (storage driver $(docker info -f '{{.Driver}}'))"
fi

if [[ "${1:-}" == --clean ]]; then
  step "removing ${IMAGE}, ${GO_IMAGE} and ${DEBIAN_IMAGE} made by this script"
  docker rmi -f "${IMAGE}" >/dev/null 2>&1 || true
  for img in "${GO_IMAGE}" "${DEBIAN_IMAGE}"; do
    if [[ "$(docker image inspect -f '{{index .Config.Labels "org.consilium.docker-prove"}}' "${img}" 2>/dev/null)" == yes ]]; then
      docker rmi -f "${img}" >/dev/null
      log "removed ${img}"
    fi
  done
  docker container prune -f >/dev/null
  docker image prune -f >/dev/null
  docker builder prune -af >/dev/null 2>&1 || true
  if [[ -n "${own_dockerd}" ]]; then
    kill "${own_dockerd}"; wait "${own_dockerd}" 2>/dev/null || true
    own_dockerd=""
    remove_tree "${WORK}"
    log "removed the private engine's data and ${WORK}"
  fi
  exit 0
fi

# ---- 2. base images --------------------------------------------------------
has_image() { docker image inspect "$1" >/dev/null 2>&1; }
describe() {
  local made
  made=$(docker image inspect -f '{{index .Config.Labels "org.consilium.docker-prove"}}' "$1" 2>/dev/null || true)
  if [[ "${made}" == yes ]]; then echo "made locally by an earlier run"; else echo "already in the engine"; fi
}

step "${DEBIAN_IMAGE}"
if has_image "${DEBIAN_IMAGE}"; then
  log "${DEBIAN_IMAGE}: $(describe "${DEBIAN_IMAGE}")"
else
  command -v debootstrap >/dev/null || die "debootstrap is not installed: apt-get install debootstrap"
  suite=${DEBIAN_IMAGE#debian:}
  suite=${suite%-slim}
  rootfs="${WORK}/rootfs"
  remove_tree "${rootfs}"
  mkdir -p "${WORK}"
  log "debootstrap --variant=minbase ${suite} (${MIRROR}; log ${WORK}/debootstrap.log)"
  debootstrap --variant=minbase "${suite}" "${rootfs}" "${MIRROR}" >"${WORK}/debootstrap.log" 2>&1 ||
    { tail -20 "${WORK}/debootstrap.log" >&2; die "debootstrap failed"; }
  # What the official slim image has: deb822 sources with updates and
  # security, and no documentation, manuals or translations from packages.
  rm -f "${rootfs}/etc/apt/sources.list"
  cat >"${rootfs}/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${suite} ${suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: ${suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"${rootfs}/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "${rootfs}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "${rootfs}"/usr/share/{man,info,locale,lintian}/* "${rootfs}"/var/cache/apt/*.bin \
    "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/log/*.log
  log "docker import as ${DEBIAN_IMAGE}"
  tar --numeric-owner --one-file-system -C "${rootfs}" -c . |
    docker import --change 'CMD ["bash"]' --change 'LABEL org.consilium.docker-prove=yes' - "${DEBIAN_IMAGE}" >/dev/null
  remove_tree "${rootfs}"
fi
took

step "${GO_IMAGE}"
if has_image "${GO_IMAGE}"; then
  log "${GO_IMAGE}: $(describe "${GO_IMAGE}")"
else
  want=${GO_IMAGE#golang:}
  want=go${want%%-*} # go1.26
  command -v go >/dev/null || die "no go on the host to take ${want} from"
  goroot=$(go env GOROOT)
  have=$(go env GOVERSION)
  if [[ "${have}" != "${want}" && "${have}" != "${want}".* ]]; then
    log "the host's Go is ${have}: fetching ${want}.0 from the module proxy (golang.org/toolchain)"
    goroot=$(GOTOOLCHAIN="${want}.0" go env GOROOT)
    have=$(GOTOOLCHAIN="${want}.0" go env GOVERSION)
  fi
  # The build context: the toolchain (hard links when on the same file
  # system) and the machine's own trust anchors. Where outbound HTTPS passes
  # an intercepting proxy (here: its CA in /usr/local/share/ca-certificates),
  # `go mod download` in the build must trust what the host trusts.
  ctx="${WORK}/gocontext"
  remove_tree "${ctx}"
  mkdir -p "${ctx}/ca"
  cp -al "${goroot}" "${ctx}/go" 2>/dev/null || cp -a "${goroot}" "${ctx}/go"
  cas=$(find /usr/local/share/ca-certificates -name '*.crt' 2>/dev/null | sort || true)
  # shellcheck disable=SC2086 # one path a word (no spaces under that folder)
  [[ -z "${cas}" ]] || cp ${cas} "${ctx}/ca/"
  log "${GO_IMAGE}: ${DEBIAN_IMAGE} + ca-certificates$([[ -z "${cas}" ]] || echo " + the host's $(wc -w <<<"${cas}") local CA(s)") + ${have} from ${goroot}"
  docker build --network=host --force-rm -q -t "${GO_IMAGE}" -f - "${ctx}" >/dev/null <<EOF
FROM ${DEBIAN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
COPY go/ /usr/local/go/
ENV GOLANG_VERSION=${have#go} GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.consilium.docker-prove=yes
WORKDIR /go
EOF
  remove_tree "${ctx}"
  docker run --rm "${GO_IMAGE}" go version >&2
fi
took

# ---- 3. the image ----------------------------------------------------------
step "docker build -t ${IMAGE} (the normal Dockerfile)"
version=$(git -C "${REPO}" describe --tags --always --dirty 2>/dev/null || echo prove)
docker build --network=host --force-rm --build-arg VERSION="${version}" -t "${IMAGE}" "${REPO}" >"${WORK}/build.log" 2>&1 ||
  { tail -30 "${WORK}/build.log" >&2; die "docker build failed (log ${WORK}/build.log)"; }
grep -E '^Step [0-9]+/' "${WORK}/build.log" | sed 's/^/    /' >&2 || true
took

# ---- 4. run it -------------------------------------------------------------
step "a fresh database in the dev cluster"
devurl=$(bash "${REPO}/scripts/devdb.sh" url)
psql_dev() { PGOPTIONS='-c client_min_messages=warning' psql "${devurl}" -v ON_ERROR_STOP=1 -qAt "$@"; }
dburl=${devurl/\/consilium\?//${DBNAME}?}
[[ "${dburl}" != "${devurl}" ]] || die "unexpected dev database URL ${devurl}"
docker rm -f "${CONTAINER}" "${CONTAINER}-migrate" >/dev/null 2>&1 || true
psql_dev -c "DROP DATABASE IF EXISTS ${DBNAME} WITH (FORCE)" -c "CREATE DATABASE ${DBNAME}"
cleanup_steps+=("docker rm -f ${CONTAINER} ${CONTAINER}-migrate >/dev/null 2>&1; psql_dev -c 'DROP DATABASE IF EXISTS ${DBNAME} WITH (FORCE)'")
log "${dburl}"

step "docker run ${IMAGE} migrate up"
docker run --rm --name "${CONTAINER}-migrate" --network=host -e DATABASE_URL="${dburl}" "${IMAGE}" migrate up 2>&1 |
  tail -3 | sed 's/^/    /' >&2
took

port=18080
while ss -Htln "sport = :${port}" | grep -q .; do port=$((port + 1)); done
base="http://127.0.0.1:${port}"
step "docker run ${IMAGE} (serve --with-worker) on ${base}"
docker run -d --name "${CONTAINER}" --network=host \
  -e DATABASE_URL="${dburl}" \
  -e CONSILIUM_AUTH_JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')" \
  -e CONSILIUM_HTTP_ADDR="127.0.0.1:${port}" \
  "${IMAGE}" >/dev/null

failures=0
check() { # check NAME COMMAND...: run it, print ok/FAIL with its output
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    printf '  ok    %s\n' "${name}" >&2
    [[ -z "${out}" ]] || printf '%s\n' "${out}" | sed 's/^/          /' >&2
  else
    printf '  FAIL  %s\n' "${name}" >&2
    printf '%s\n' "${out}" | sed 's/^/          /' >&2
    failures=$((failures + 1))
  fi
}

health=""
# Docker runs the HEALTHCHECK (consilium healthcheck, i.e. /readyz) every
# 15 s; the first run is 15 s after the start.
for _ in $(seq 1 120); do
  health=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "${CONTAINER}")
  [[ "${health}" == "running healthy" || "${health}" != running* ]] && break
  sleep 0.5
done
took
if [[ "${health}" != "running healthy" ]]; then
  docker logs --tail 30 "${CONTAINER}" >&2
  die "the container is ${health}, not running and healthy"
fi

step "checks"
check "docker HEALTHCHECK (consilium healthcheck): ${health}" \
  docker inspect -f '{{with index .State.Health.Log 0}}exit {{.ExitCode}}: {{.Output}}{{end}}' "${CONTAINER}"
check "GET /readyz answers 200" \
  bash -c "out=\$(curl -sS -w ' %{http_code}' '${base}/readyz'); echo \"\$out\"; [[ \"\$out\" == *' 200' ]]"

email="prove-$(date +%s)-$$@example.com"
register() {
  local out code
  out=$(curl -sS -w '\n%{http_code}' "${base}/api/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"${email}\",\"password\":\"correct horse battery staple\",\"full_name\":\"Docker Prove\"}")
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  echo "HTTP ${code}: ${body:0:160}…"
  [[ "${code}" == 201 ]] || return 1
  token=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"${body}")
  [[ -n "${token}" ]] || { echo "no access_token in the answer"; return 1; }
  printf '%s' "${token}" >"${WORK}/token"
}
me() {
  local out
  out=$(curl -sS -w ' %{http_code}' "${base}/api/users/me" -H "authorization: Bearer $(cat "${WORK}/token")")
  echo "${out:0:200}"
  [[ "${out}" == *' 200' && "${out}" == *"${email}"* ]]
}
check "POST /api/auth/register answers 201 with a token pair (${email})" register
check "GET /api/users/me with that token answers 200 with the user" me
rm -f "${WORK}/token"
check "runs as uid 10001, not root" bash -c "u=\$(docker exec ${CONTAINER} id -u); echo uid \$u; [[ \$u == 10001 ]]"
check "tesseract with English data" \
  bash -c "docker exec ${CONTAINER} tesseract --version 2>&1 | head -1 && docker exec ${CONTAINER} tesseract --list-langs 2>&1 | grep -x eng"
check "WordNet at /usr/share/wordnet" docker exec "${CONTAINER}" test -f /usr/share/wordnet/index.noun
plugins=$(docker exec "${CONTAINER}" ls /usr/local/lib/consilium/plugins)
# Settings a plugin needs to describe itself; its calls may still fail here
# (no provider is reachable): starting, the handshake and the manifest are
# what is checked. A plugin not named here passes when it starts, or when
# its Describe answers invalid_config (it ran and answered over gRPC).
declare -A plugin_args=([llm]="--set provider=ollama")
plugin_check() {
  local p=$1 out
  # shellcheck disable=SC2086
  out=$(docker exec "${CONTAINER}" consilium plugins check ${plugin_args[${p}]:-} "/usr/local/lib/consilium/plugins/${p}" 2>&1)
  if grep -q '^kind ' <<<"${out}"; then
    grep -E '^(kind|started in)|^  (name|model) |conformant' <<<"${out}"
    return 0
  fi
  echo "${out}"
  grep -q 'describe: invalid_config' <<<"${out}"
}
for p in ${plugins}; do
  check "plugin ${p} starts and describes itself (consilium plugins check ${plugin_args[${p}]:-})" plugin_check "${p}"
done
check "the offline local plugin runs (consilium plugins list)" \
  bash -c "docker exec ${CONTAINER} consilium plugins list | cut -c1-100"

step "${IMAGE}"
size=$(docker image inspect -f '{{.Size}}' "${IMAGE}")
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^  (${IMAGE}|${DEBIAN_IMAGE}|${GO_IMAGE}) " >&2 || true
log "image ${IMAGE}: $((size / 1000000)) MB (${size} bytes); shipped plugins: ${plugins//$'\n'/ }"
log "total $(($(date +%s) - start))s"
if [[ ${failures} -gt 0 ]]; then
  docker logs --tail 30 "${CONTAINER}" >&2
  die "${failures} check(s) failed"
fi
log "all checks passed"
