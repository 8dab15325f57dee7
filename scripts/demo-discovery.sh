#!/usr/bin/env bash
# Token discovery in one minute: a self-hosted token service, a cluster token, three joins, `list`,
# one join stopped and gone from the list after its TTL.
set -euo pipefail
cd "$(dirname "$0")/.."
SWARM=${SWARM:-dist/swarm}
PORT=${PORT:-8600}
DATA=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
export SWARM_DISCOVERY_URL="http://127.0.0.1:${PORT}/v1"

say "swarm token-server -H 127.0.0.1:${PORT} --data-file ${DATA}/tokens.json &"
"$SWARM" token-server -H "127.0.0.1:${PORT}" --data-file "${DATA}/tokens.json" &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:${PORT}/v1/clusters/x" 2>/dev/null && break; sleep 0.1; done

say 'TOKEN=$(swarm create)'
TOKEN=$("$SWARM" create)
echo "$TOKEN"

for i in 1 2 3; do
  say "swarm join --advertise 10.0.0.1${i}:2375 --heartbeat 1s --ttl 3s token://\$TOKEN &"
  "$SWARM" join --advertise "10.0.0.1${i}:2375" --heartbeat 1s --ttl 3s "token://${TOKEN}" 2>/dev/null &
  pids+=($!)
done
sleep 1.5
say 'swarm list token://$TOKEN'
"$SWARM" list "token://${TOKEN}"

say "kill the join of 10.0.0.12 and wait for its TTL (3s)"
kill "${pids[2]}"
sleep 4
say 'swarm list token://$TOKEN'
"$SWARM" list "token://${TOKEN}"
