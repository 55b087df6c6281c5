#!/usr/bin/env bash
# Builds an image from Debian's packages with debootstrap, then `docker import`s it, since no
# registry can be reached:
#
#   scripts/build-image.sh mariadb [TAG]   berth/mariadb:10.11 (bookworm: mariadb-server 10.11)
#   scripts/build-image.sh mysql [TAG]     berth/mysql:9.7     (unstable: Oracle MySQL 9.7 server + client)
#   scripts/build-image.sh node [TAG]      berth/node:20       (trixie: nodejs 20, base of berth's image)
#
# The database images have no entrypoint on purpose: the agent renders my.cnf and initializes the
# data directory itself, so any image with mysqld in it works the same way. The exact server (or
# Node) version the suite gave is recorded as the label `berth.version` and printed.
#
# Overrides: BERTH_DEBIAN_SUITE (the suite), BERTH_DEBIAN_PACKAGES (comma-separated packages),
# BERTH_DEBIAN_MIRROR (the mirror; otherwise the one apt is configured with).
# An old single argument naming a tag (berth/mariadb:10.11) still builds MariaDB.
set -euo pipefail
log() { printf '[build-image] %s\n' "$*" >&2; }
die() { printf '[build-image] ERROR: %s\n' "$*" >&2; exit 1; }

FLAVOR="${1:-mariadb}"
case "$FLAVOR" in *:*|*/*) set -- mariadb "$FLAVOR" ; FLAVOR=mariadb ;; esac
case "$FLAVOR" in
  mariadb) DEF_TAG=berth/mariadb:10.11; DEF_SUITE=bookworm; DEF_PKGS=mariadb-server,mariadb-client,mariadb-backup
           VERSION_CMD='mariadbd --version' ;;
  # mysql-server-core is mysql-server's server binaries and plugins without its maintainer
  # script, which initializes a data directory with a server in the chroot and failed there
  # about one build in two; the two things it made that mysqld needs are made below.
  mysql)   DEF_TAG=berth/mysql:9.7; DEF_SUITE=sid; DEF_PKGS=mysql-server-core,mysql-client
           VERSION_CMD='mysqld --version' ;;
  node)    DEF_TAG=berth/node:20; DEF_SUITE=trixie; DEF_PKGS=nodejs,ca-certificates
           VERSION_CMD='node --version' ;;
  *) die "unknown flavor '$FLAVOR': use mariadb, mysql or node" ;;
esac
IMAGE="${2:-$DEF_TAG}"
SUITE="${BERTH_DEBIAN_SUITE:-$DEF_SUITE}"
PKGS="${BERTH_DEBIAN_PACKAGES:-$DEF_PKGS}"

# The mirror apt already uses is the one this machine can reach: take the first non-security
# URI from its deb822 sources (*.sources) or one-line sources (*.list). Never guess a host.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }' "$f"
  done
}
MIRROR="${BERTH_DEBIAN_MIRROR:-}"
if [ -z "$MIRROR" ]; then
  # The Debian archive itself (a path ending in /debian), not its security suite or a vendor's repo.
  MIRROR=$(apt_mirror | grep -E '^https?://[^ ]*/debian/?$' | grep -v security | head -1 || true)
  [ -n "$MIRROR" ] || die "cannot find a Debian mirror in apt's sources (/etc/apt/sources.list*): set BERTH_DEBIAN_MIRROR=<URL of a Debian archive this machine reaches>"
fi
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"

ROOTFS=$(mktemp -d /var/tmp/berth-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS" "$ROOTFS.log"' EXIT
started=$SECONDS
# A package's maintainer script can fail for a reason outside it (mysql-server's starts a
# server in the chroot once): one more try on a fresh tree before giving up.
for attempt in 1 2; do
  log "debootstrap $SUITE ($PKGS) from $MIRROR, attempt $attempt (a minute or two)"
  if debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1; then break; fi
  tail -20 "$ROOTFS/debootstrap/debootstrap.log" "$ROOTFS.log" >&2 2>/dev/null || tail -20 "$ROOTFS.log" >&2
  [ "$attempt" = 2 ] && die "debootstrap of $SUITE from $MIRROR failed (override with BERTH_DEBIAN_MIRROR, BERTH_DEBIAN_SUITE or BERTH_DEBIAN_PACKAGES)"
  rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
done
if [ "$FLAVOR" = mysql ]; then
  chroot "$ROOTFS" sh -c 'getent passwd mysql >/dev/null || useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /bin/false mysql'
  # secure_file_priv's compiled-in default: mysqld refuses to start when it is missing.
  chroot "$ROOTFS" install -d -o mysql -g mysql -m 0700 /var/lib/mysql /var/lib/mysql-files
fi
FULL_VERSION=$(chroot "$ROOTFS" sh -c "$VERSION_CMD" 2>/dev/null | head -1 || true)
VERSION=$(printf '%s' "$FULL_VERSION" | grep -oE '[0-9]+\.[0-9]+\.[0-9]+[^ ]*' | head -1 || true)
[ -n "$VERSION" ] || die "the image has no working '$VERSION_CMD' (got: ${FULL_VERSION:-nothing})"
# Trim what an image never needs. The package's own data directory goes too: it was made at
# install time with a password-less root, and the agent always mounts a fresh one there.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
[ "$FLAVOR" = node ] || find "$ROOTFS/var/lib/mysql" -mindepth 1 -delete 2>/dev/null || true
log "docker import -> $IMAGE"
tar -C "$ROOTFS" -c . | docker import \
  --change "LABEL berth.image=$FLAVOR berth.version=$VERSION berth.suite=$SUITE" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1000000}')
log "built $IMAGE: $FULL_VERSION (label berth.version=$VERSION, $SIZE, $((SECONDS - started)) s)"
