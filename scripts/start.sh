#!/usr/bin/env bash
# Set-up, then the manager and one agent for this host in the foreground, ready for berthctl.
# Ctrl-C stops both; the MySQL containers keep running and are found again on the next start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

STATE_DIR="${BERTH_STATE_DIR:-$PWD/.berth}"
GRPC="${BERTH_GRPC:-127.0.0.1:7400}"
AGENT="${BERTH_AGENT:-127.0.0.1:7401}"
NODE="${BERTH_NODE:-$(hostname | tr 'A-Z_.' 'a-z--' | sed 's/^[^a-z]*//' | cut -c1-63)}"
NODE="${NODE:-local}"
PORTS="${BERTH_PORTS:-3301-3399}"
DISK="${BERTH_DISK:-$STATE_DIR/data1}"
mkdir -p "$STATE_DIR" "$DISK"

pids=()
cleanup() {
  trap - INT TERM EXIT
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

node dist/manager/main.js --listen "$GRPC" --state-dir "$STATE_DIR" &
pids+=($!)
node dist/agent/main.js --manager "$GRPC" --listen "$AGENT" --node "$NODE" --disk "$DISK" --ports "$PORTS" &
pids+=($!)

# Ready means berthctl sees this node.
for _ in $(seq 1 60); do
  if node bin/berthctl.js --manager "$GRPC" --json node list 2>/dev/null | grep -q "\"name\": \"$NODE\""; then
    echo "[start] berth is ready: manager on $GRPC, node $NODE (ports $PORTS, data in $DISK), state in $STATE_DIR" >&2
    echo "[start] try: npx berthctl instance create --name db1 --cpu 1 --memory 1G --disk 5G --wait" >&2
    break
  fi
  sleep 0.5
done
wait -n "${pids[@]}"
