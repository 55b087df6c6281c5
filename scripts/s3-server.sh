#!/usr/bin/env bash
# A real S3 server for the S3 backup repository's tests: a one-host Ceph (one monitor, one OSD
# on memstore, every pool of size 1, no cephx inside the cluster) and radosgw in front of it,
# all from Debian bookworm's packages (radosgw, ceph-mon, ceph-osd). MinIO is not packaged.
#
#   scripts/s3-server.sh start   starts it (a no-op when it runs), prints the env lines
#   scripts/s3-server.sh stop    stops what start started (by the pids it recorded), wipes state
#   scripts/s3-server.sh env     prints BERTH_S3_* lines for the running server (fails if down)
#   scripts/s3-server.sh status  exit 0 when radosgw answers
#
# memstore keeps the objects in the OSD's memory: the lightest real store (no disk image, no
# bluestore mkfs), and a test server's data is throwaway anyway. A start after a stop (or after a
# crash) builds a fresh cluster. Everything lives under BERTH_S3_STATE (default
# /var/tmp/berth-s3); only the daemons whose pids are recorded there are ever stopped.
set -euo pipefail

STATE="${BERTH_S3_STATE:-/var/tmp/berth-s3}"
ADDR="${BERTH_S3_ADDR:-127.0.0.81}"
PORT="${BERTH_S3_PORT:-7480}"
MON_PORT="${BERTH_S3_MON_PORT:-6789}"
CONF="$STATE/ceph.conf"
ENDPOINT="http://$ADDR:$PORT"

log() { printf '[s3-server] +%ss %s\n' "$SECONDS" "$*" >&2; }
die() {
  printf '[s3-server] ERROR: %s\n' "$*" >&2
  tail -n 15 "$STATE/log/setup.log" >&2 2>/dev/null || true
  exit 1
}

answers() { curl -s -o /dev/null -m 2 "$ENDPOINT/" 2>/dev/null; }

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

print_env() {
  [ -f "$STATE/credentials" ] || die "no credentials under $STATE: the server was not started"
  # shellcheck disable=SC1091
  . "$STATE/credentials"
  printf 'BERTH_S3_ENDPOINT=%s\nBERTH_S3_ACCESS_KEY=%s\nBERTH_S3_SECRET_KEY=%s\nBERTH_S3_REGION=default\n' "$ENDPOINT" "$ACCESS_KEY" "$SECRET_KEY"
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v1:$ADDR:$MON_PORT
mon initial members = a
public addr = $ADDR
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $STATE/run
admin socket = $STATE/run/\$name.asok
pid file = $STATE/run/\$name.pid
log file = $STATE/log/\$name.log
crash dir = $STATE/crash
mon data = $STATE/mon/\$name
osd data = $STATE/osd/\$name
osd objectstore = memstore
memstore device bytes = ${BERTH_S3_MEM_BYTES:-2147483648}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd max object name len = 256
osd max object namespace len = 64
osd memory target = 939524096
rgw frontends = beast endpoint=$ADDR:$PORT
rgw dns name = $ADDR
rgw data = $STATE/rgw
rgw enable usage log = false
EOF
}

start() {
  if answers && [ -f "$STATE/credentials" ]; then print_env; return; fi
  for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
    command -v "$b" >/dev/null || die "$b is missing (apt-get install radosgw ceph-mon ceph-osd ceph-common curl)"
  done
  stop_daemons
  rm -rf "$STATE"
  mkdir -p "$STATE"/{run,log,crash,mon/mon.a,osd/osd.0,rgw}
  chmod 700 "$STATE"
  local t0=$SECONDS fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"

  log "monitor on $ADDR:$MON_PORT"
  monmaptool --create --fsid "$fsid" --addv a "[v1:$ADDR:$MON_PORT]" "$STATE/monmap" >/dev/null
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$STATE/monmap" >>"$STATE/log/setup.log" 2>&1 || die "ceph-mon --mkfs failed, see $STATE/log"
  ceph-mon -c "$CONF" -i a >>"$STATE/log/setup.log" 2>&1 || die "ceph-mon did not start, see $STATE/log"
  wait_for 30 ceph -c "$CONF" --connect-timeout 2 mon stat || die "the monitor does not answer, see $STATE/log/mon.a.log"

  log "OSD (memstore)"
  local uuid
  uuid=$(cat /proc/sys/kernel/random/uuid)
  [ "$(ceph -c "$CONF" osd new "$uuid" 2>>"$STATE/log/setup.log")" = 0 ] || die "ceph osd new did not give osd.0"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$STATE/log/setup.log" 2>&1 || die "ceph-osd --mkfs failed, see $STATE/log"
  # Seen once right after a stop: the daemon's start failed and the next one worked. Try thrice.
  local try
  for try in 1 2 3; do
    ceph-osd -c "$CONF" -i 0 >>"$STATE/log/setup.log" 2>&1 && break
    [ "$try" -lt 3 ] || die "ceph-osd did not start, see $STATE/log"
    log "ceph-osd did not start (try $try), again"
    cp "$STATE/log/osd.0.log" "$STATE/log/osd.0.try$try.log" 2>/dev/null || true
    sleep 1
  done
  wait_for 60 osd_up || die "osd.0 is not up, see $STATE/log/osd.0.log"

  log "radosgw on $ENDPOINT"
  radosgw -c "$CONF" -n client.rgw.a >>"$STATE/log/setup.log" 2>&1 || die "radosgw did not start, see $STATE/log"
  wait_for 90 answers || die "radosgw does not answer on $ENDPOINT, see $STATE/log/client.rgw.a.log"

  local ak sk
  ak=$(head -c 15 /dev/urandom | base32 | tr -d '=' | head -c 20)
  sk=$(head -c 30 /dev/urandom | base64 | tr -d '=+/' | head -c 40)
  radosgw-admin -c "$CONF" -n client.admin user create --uid=berth --display-name=berth --access-key="$ak" --secret-key="$sk" >/dev/null 2>>"$STATE/log/setup.log" || die "radosgw-admin user create failed"
  (umask 077 && printf 'ACCESS_KEY=%s\nSECRET_KEY=%s\n' "$ak" "$sk" >"$STATE/credentials")
  log "up in $((SECONDS - t0)) s"
  print_env
}

osd_up() { ceph -c "$CONF" --connect-timeout 2 osd stat 2>/dev/null | grep -q '1 up'; }

# Only the daemons this script started: their pid files under $STATE/run, and only when the pid
# still names a Ceph daemon (a recycled pid is left alone).
stop_daemons() {
  local f pid
  for f in "$STATE"/run/client.rgw.a.pid "$STATE"/run/osd.0.pid "$STATE"/run/mon.a.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ -n "$pid" ] && grep -qE '^(radosgw|ceph-osd|ceph-mon)' "/proc/$pid/comm" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      local end=$((SECONDS + 15))
      while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop_daemons; rm -rf "$STATE" ;;
  env) answers || die "radosgw does not answer on $ENDPOINT (run scripts/s3-server.sh start)"; print_env ;;
  status) answers ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
