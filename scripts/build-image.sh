#!/usr/bin/env bash
# Builds a MariaDB image from Debian's packages with debootstrap, then `docker import`s it.
# The image has no entrypoint on purpose: the agent renders my.cnf and initializes the data
# directory itself, so any image with mysqld in it works the same way.
set -euo pipefail
IMAGE="${1:-berth/mariadb:10.11}"
SUITE="${BERTH_DEBIAN_SUITE:-bookworm}"
log() { printf '[build-image] %s\n' "$*" >&2; }

# Use the mirror apt already uses, since it is the one this machine can reach.
MIRROR="${BERTH_DEBIAN_MIRROR:-}"
if [ -z "$MIRROR" ]; then
  MIRROR=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$MIRROR" ] || MIRROR=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
fi

ROOTFS=$(mktemp -d /var/tmp/berth-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
log "debootstrap $SUITE from $MIRROR (about a minute)"
debootstrap --variant=minbase --include=mariadb-server,mariadb-client,mariadb-backup \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || { tail -20 "$ROOTFS.log" >&2; exit 1; }
rm -f "$ROOTFS.log"
# Trim what a server image never needs.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
log "docker import -> $IMAGE"
tar -C "$ROOTFS" -c . | docker import \
  --change 'LABEL berth.image=mariadb' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
log "built $IMAGE"
