#!/usr/bin/env bash
# scripts/demo.sh: the talk's demo, live. Brings up 3 real Docker engines (scripts/testbed.sh), builds
# dist/swarm if needed, starts `swarm manage` on them, and drives the cluster with the plain docker
# CLI, printing each command and its output. Tears everything down at the end unless --keep.
#
#   scripts/demo.sh [--keep] [--port N] [--mixed]
# --mixed: host 2 runs today's dockerd 26 refusing clients below API 1.44 (as Docker Engine 29).
set -euo pipefail

KEEP=0
PORT=4000
ENGINES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --port) PORT=$2; shift ;;
    --mixed) ENGINES=(--engine 2:26 --min-api 2:1.44) ;;
    -h|--help) sed -n 2,7p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
# TESTBED_ID=1..9 runs the demo on an independent testbed (see scripts/testbed.sh help).
HOSTS_FILE=${TESTBED_DIR:-$REPO/.testbed${TESTBED_ID:-}}/hosts
MANAGER=tcp://127.0.0.1:$PORT
LOG=$(mktemp /tmp/swarm-demo-manager.XXXXXX.log)
MANAGER_PID=

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
# Prints the command as one would type it (arguments with spaces or specials quoted), then runs it.
show() {
  local out='' a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=,+-]+$ ]]; then out+="$a "; else out+="'${a//\'/\'\\\'\'}' "; fi
  done
  printf '\033[36m$ %s\033[0m\n' "${out% }"
}
run() {
  show "$@"
  timeout -s KILL 120 "$@" 2>&1 || printf '(exit %s)\n' "$?"
}
d() { run docker -H "$MANAGER" "$@"; }

cleanup() {
  if [ "$KEEP" = 1 ]; then
    bold "Kept running: docker -H $MANAGER ...  (manager log: $LOG; stop with: kill $MANAGER_PID; ${TESTBED_ID:+TESTBED_ID=$TESTBED_ID }scripts/testbed.sh down)"
  else
    bold "Tearing down"
    if [ -n "$MANAGER_PID" ]; then kill "$MANAGER_PID" 2>/dev/null || true; wait "$MANAGER_PID" 2>/dev/null || true; fi
    bash scripts/testbed.sh down >/dev/null 2>&1 || true
    rm -f "$LOG"
  fi
}

bold "1. Three Docker engines (scripts/testbed.sh up 3 ${ENGINES[*]})"
bash scripts/testbed.sh up 3 "${ENGINES[@]}"
NODES=$(awk '{printf "%s%s:%s", (NR>1?",":""), $2, $3}' "$HOSTS_FILE")

if [ ! -x dist/swarm ] || [ -n "$(find src bin -newer dist/swarm -name '*.ts' -print -quit)" ]; then
  bold "2. Building dist/swarm"
  npm run build
fi

bold "3. One manager for all of them"
printf '\033[36m$ swarm manage -H %s nodes://%s\033[0m\n' "$MANAGER" "$NODES"
if [ "$KEEP" = 1 ]; then
  setsid ./dist/swarm manage -H "$MANAGER" --engine-refresh-min-interval 5s --engine-refresh-max-interval 10s "nodes://$NODES" >"$LOG" 2>&1 &
else
  ./dist/swarm manage -H "$MANAGER" --engine-refresh-min-interval 5s --engine-refresh-max-interval 10s "nodes://$NODES" >"$LOG" 2>&1 &
fi
MANAGER_PID=$!
trap cleanup EXIT
for _ in $(seq 1 100); do
  [ "$(docker -H "$MANAGER" info 2>/dev/null | grep -c 'Status: Healthy')" = 3 ] && break
  sleep 0.3
done
sed 's/^/  manager | /' "$LOG"

bold "4. The cluster looks like one big Docker engine"
d info

bold "5. Same port twice: the scheduler puts them on two different hosts"
d run -d -p 80:80 --name web1 busybox httpd -f
d run -d -p 80:80 --name web2 busybox httpd -f
d ps
WEB1=$(docker -H "$MANAGER" port web1 80/tcp | head -1)
WEB2=$(docker -H "$MANAGER" port web2 80/tcp | head -1)
# busybox httpd has nothing to serve at /: any HTTP answer shows the server is up on that host.
run curl -s -o /dev/null -w 'HTTP %{http_code} from %{remote_ip}:%{remote_port}\n' "http://$WEB1/"
run curl -s -o /dev/null -w 'HTTP %{http_code} from %{remote_ip}:%{remote_port}\n' "http://$WEB2/"

bold "6. Logs, from whichever host runs the container"
d run -d --name hello busybox sh -c 'echo "hello from $(hostname)"; sleep 600'
sleep 1
d logs hello
d inspect -f '{{.Name}} runs on {{.Node.Name}} ({{.Node.Addr}})' web1 web2 hello

bold "7. Reservations: -m (memory) and -c (CPUs, as Swarm counts them)"
d run -d -m 256m -c 1 --name reserved busybox sleep 600
d info --format '{{range .SystemStatus}}{{index . 0}}: {{index . 1}}{{"\n"}}{{end}}'

bold "8. Cleaning the demo containers"
d rm -f web1 web2 hello reserved
