#!/usr/bin/env bash
# Idempotent set-up for development, CI and `npm start`: npm dependencies, the compiled
# JavaScript, a running Docker engine and the local MariaDB image. Every step checks first, so a
# second run with everything present takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${BERTH_IMAGE:-berth/mariadb:10.11}"
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
log "build (proto types + tsc)"
npm run --silent build || die "build failed (proto types + TypeScript)"

# 3. Tools the set-up and the tests call: the Docker engine, debootstrap, the mariadb client, chromium.
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v mariadb >/dev/null || missing+=(mariadb-client)
command -v chromium >/dev/null || missing+=(chromium) # the dashboard test drives headless Chromium
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

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

# 5. The MySQL image, built offline from Debian's packages since no registry can be reached.
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  bash scripts/build-image.sh "$IMAGE"
fi
log "ready: Docker $(docker version --format '{{.Server.Version}}'), image $IMAGE"
