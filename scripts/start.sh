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

node dist/manager/main.js --listen "$GRPC" --registry-listen "$REGISTRY" --state-dir "$STATE_DIR" "${SECURITY[@]}" &
pids+=($!)
node dist/agent/main.js --manager "$REGISTRY" "${SECURITY[@]}" --listen "$AGENT" --node "$NODE" --disk "$DISK" --ports "$PORTS" &
pids+=($!)

# Ready means berthctl sees this node.
for _ in $(seq 1 60); do
  if "${CTL[@]}" --json node list 2>/dev/null | grep -q "\"name\": \"$NODE\""; then
    echo "[start] berth is ready: manager on $GRPC, node $NODE (ports $PORTS, data in $DISK), state in $STATE_DIR" >&2
    echo "[start] try: npx berthctl instance create --name db1 --cpu 1 --memory 1G --disk 5G --wait" >&2
    break
  fi
  sleep 0.5
done
wait -n "${pids[@]}"
