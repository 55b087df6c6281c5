#!/usr/bin/env bash
# Idempotent set-up for development, CI and `npm start`: npm dependencies, the compiled
# JavaScript, a running Docker engine, the MariaDB and MySQL images, and berth's own image (on a
# Node base image) that docker-compose.yml runs. Every step checks first, so a second run with
# everything present takes seconds. Images are built from Debian's packages (no registry):
# BERTH_DEBIAN_MIRROR overrides the mirror read from apt's sources.
set -euo pipefail
cd "$(dirname "$0")/.."

MARIADB_IMAGE="${BERTH_MARIADB_IMAGE:-berth/mariadb:10.11}"
MYSQL_IMAGE="${BERTH_MYSQL_IMAGE:-berth/mysql:9.7}"
NODE_IMAGE="${BERTH_NODE_IMAGE:-berth/node:20}"
BERTH_TAG="${BERTH_TAG:-berth:latest}"
STATE_DIR="${BERTH_STATE_DIR:-$PWD/.berth}"
DOCKER_LOG="$STATE_DIR/dockerd.log"
mkdir -p "$STATE_DIR"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "need $* but apt-get is not available; install them by hand"
  [ "$(id -u)" = 0 ] || die "need $* and must run as root to install them (or install them by hand)"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$STATE_DIR/apt.log" 2>&1 || die "apt-get update failed, see $STATE_DIR/apt.log"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$STATE_DIR/apt.log" 2>&1 || die "apt-get install $* failed, see $STATE_DIR/apt.log"
}

# 1. npm dependencies, only when the lock file changed since the last install.
LOCK_HASH=$(sha256sum package-lock.json | cut -d' ' -f1)
# The test runner calls set-up with BERTH_SETUP_SKIP_NPM=1: it is running from node_modules.
if [ -z "${BERTH_SETUP_SKIP_NPM:-}" ] && [ "$(cat node_modules/.berth-lock-hash 2>/dev/null)" != "$LOCK_HASH" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund >"$STATE_DIR/npm.log" 2>&1 || die "npm ci failed, see $STATE_DIR/npm.log"
  echo "$LOCK_HASH" > node_modules/.berth-lock-hash
fi

# 2. Compiled JavaScript: production runs dist/, never a TypeScript loader.
log "build (proto types + tsc, and the client package)"
npm run --silent build || die "build failed (proto types + TypeScript)"

# 3. Tools the set-up and the tests call: the Docker engine, compose, debootstrap, the mariadb
# client, chromium, promtool, haproxy, Ceph's radosgw.
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose) # 1.29 in bookworm; runs docker-compose.yml
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v mariadb >/dev/null || missing+=(mariadb-client)
command -v chromium >/dev/null || missing+=(chromium) # the dashboard test drives headless Chromium
command -v iptables >/dev/null || missing+=(iptables) # the failover test cuts a simulated host off (loopback only)
command -v promtool >/dev/null || missing+=(prometheus) # promtool checks deploy/prometheus (the server is not started)
command -v curl >/dev/null || missing+=(curl) # scripts/s3-server.sh asks radosgw whether it answers
command -v haproxy >/dev/null || missing+=(haproxy) # stable endpoints: each router node's agent runs HAProxy 2.6 (docs/endpoints.md)
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
# The real S3 server the S3 backup repository is tested against (scripts/s3-server.sh: one Ceph
# monitor, one memstore OSD, radosgw). Without recommends: about 1 min, no Ceph manager/dashboard.
ceph_missing=()
for b in radosgw:radosgw ceph-mon:ceph-mon ceph-osd:ceph-osd ceph:ceph-common; do
  command -v "${b%%:*}" >/dev/null || ceph_missing+=("${b#*:}")
done
if [ "${#ceph_missing[@]}" -gt 0 ]; then apt_install --no-install-recommends "${ceph_missing[@]}"; fi

# 4. A Docker engine that answers.
if ! docker info >/dev/null 2>&1; then
  log "no Docker engine answers; starting dockerd (log: $DOCKER_LOG)"
  setsid dockerd >"$DOCKER_LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 "$DOCKER_LOG" >&2; die "dockerd did not answer within 60 s, see $DOCKER_LOG"; }
  log "dockerd is up"
fi

# 5. The database images, built offline from Debian's packages since no registry can be reached.
image_missing() { ! docker image inspect "$1" >/dev/null 2>&1; }
if image_missing "$MARIADB_IMAGE"; then bash scripts/build-image.sh mariadb "$MARIADB_IMAGE"; fi
if image_missing "$MYSQL_IMAGE"; then bash scripts/build-image.sh mysql "$MYSQL_IMAGE"; fi

# 6. berth's own image (docker-compose.yml), FROM a Node base image made from Debian's nodejs, with
# the JavaScript compiled above and the production part of node_modules. Rebuilt when the
# compiled code or the lock file changed since it was built.
if image_missing "$NODE_IMAGE"; then bash scripts/build-image.sh node "$NODE_IMAGE"; fi
SRC_HASH=$( (cat package-lock.json Dockerfile; find dist proto bin -type f -not -name '*.test.js' | sort | xargs cat) | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "berth.source"}}' "$BERTH_TAG" 2>/dev/null)" != "$SRC_HASH" ]; then
  log "docker build $BERTH_TAG FROM $NODE_IMAGE"
  CTX="$STATE_DIR/image-context"
  bash scripts/image-context.sh "$CTX"
  docker build -q --build-arg BASE="$NODE_IMAGE" --label berth.source="$SRC_HASH" -f Dockerfile -t "$BERTH_TAG" "$CTX" >"$STATE_DIR/docker-build.log" 2>&1 \
    || { tail -20 "$STATE_DIR/docker-build.log" >&2; die "docker build of $BERTH_TAG failed, see $STATE_DIR/docker-build.log"; }
  rm -rf "$CTX"
fi
size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%d MB", $1/1000000}'; }
version() { v=$(docker image inspect -f '{{index .Config.Labels "berth.version"}}' "$1"); echo "${v:-no version label}"; }
log "ready: Docker $(docker version --format '{{.Server.Version}}'), $MARIADB_IMAGE ($(version "$MARIADB_IMAGE"), $(size "$MARIADB_IMAGE")), $MYSQL_IMAGE ($(version "$MYSQL_IMAGE"), $(size "$MYSQL_IMAGE")), $BERTH_TAG ($(size "$BERTH_TAG"))"
