#!/usr/bin/env bash
# Set-up, then the manager and one agent for this host in the foreground, ready for berthctl.
# Ctrl-C stops both; the MySQL containers keep running and are found again on the next start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

STATE_DIR="${BERTH_STATE_DIR:-$PWD/.berth}"
GRPC="${BERTH_GRPC:-127.0.0.1:7400}"
AGENT="${BERTH_AGENT:-127.0.0.1:7401}"
REGISTRY="${BERTH_REGISTRY:-127.0.0.1:7402}"
NODE="${BERTH_NODE:-$(hostname | tr 'A-Z_.' 'a-z--' | sed 's/^[^a-z]*//' | cut -c1-63)}"
NODE="${NODE:-local}"
PORTS="${BERTH_PORTS:-3301-3399}"
DISK="${BERTH_DISK:-$STATE_DIR/data1}"
mkdir -p "$STATE_DIR" "$DISK"
chmod 700 "$STATE_DIR"

# TLS by default: a CA, the manager's and this node's certificates, and an admin client
# certificate that berthctl finds through the config file (kept when they exist already).
TLS_DIR="$STATE_DIR/tls"
SECURITY=(--tls-dir "$TLS_DIR")
CTL=(node bin/berthctl.js --manager "$GRPC")
if [ -n "${BERTH_INSECURE:-}" ]; then
  SECURITY=(--insecure)
  CTL+=(--insecure)
else
  "${CTL[@]}" certs init --dir "$TLS_DIR" --node "$NODE" --write-config "$STATE_DIR/berthctl.json" >/dev/null
fi
export BERTH_STATE_DIR="$STATE_DIR"

pids=()
cleanup() {
  trap - INT TERM EXIT
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

STARTED_MS=$(date +%s%3N)
node dist/manager/main.js --listen "$GRPC" --registry-listen "$REGISTRY" --state-dir "$STATE_DIR" "${SECURITY[@]}" &
pids+=($!)
node dist/agent/main.js --manager "$REGISTRY" "${SECURITY[@]}" --listen "$AGENT" --node "$NODE" --disk "$DISK" --ports "$PORTS" &
pids+=($!)

# Ready means the manager reads this node as ready on a heartbeat sent by this run's agent: a node
# row left by an earlier run reads down (or, for a few seconds, ready on an old heartbeat) and a
# create sent then would be refused.
node_ready() {
  "${CTL[@]}" --json node list 2>/dev/null | node -e '
    const [name, since] = process.argv.slice(1);
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const n = JSON.parse(s || "[]").find((x) => x.name === name);
      process.exit(n && n.state === "ready" && Date.parse(n.lastHeartbeat) >= Number(since) ? 0 : 1);
    });' "$NODE" "$STARTED_MS"
}
ready=0
for _ in $(seq 1 120); do
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "[start] ERROR: the manager or the agent exited during start-up (see above)" >&2; exit 1; }; done
  if node_ready; then ready=1; break; fi
  sleep 0.5
done
if [ "$ready" != 1 ]; then
  echo "[start] ERROR: node $NODE did not report ready to the manager on $GRPC within 60 s (see the logs above)" >&2
  exit 1
fi
echo "[start] berth is ready: manager on $GRPC, node $NODE (ports $PORTS, data in $DISK), state in $STATE_DIR" >&2
echo "[start] admin HTTP on 127.0.0.1:7480 needs the admin token the manager printed on its first start, kept in $STATE_DIR/admin-token (mode 0600): npx berthctl capacity reads it; dashboard: http://127.0.0.1:7480/#token=\$(cat $STATE_DIR/admin-token)" >&2
echo "[start] try: npx berthctl instance create --name db1 --cpu 1 --memory 1G --disk 5G --wait   (--flavor mysql for MySQL 9.7)" >&2
wait -n "${pids[@]}"
