#!/usr/bin/env bash
# scripts/testbed.sh: N real Docker engines on this one machine, for tests, the demo and benchmarks.
#
# Each host i (1-based) is a real dockerd running in
#   - its own network namespace  swarmtb-node-i  (veth swarmtb-v<i> on bridge swarmtb0, IP 10.99.0.<10+i>)
#   - its own persistent mount namespace (its own /etc/docker, so its own key.json and engine ID;
#     its own /run/containerd; its btrfs image mounted there) and UTS namespace (hostname node-i)
#   - its own cgroup subtree /swarmtb/node-i (dockerd, its containerd and all its containers), which
#     is what `down` and `kill-engine --hard` use to kill everything a host started.
# Namespaces are entered with nsenter, never `ip netns exec` (that remounts /sys and hides the
# cgroup mounts from dockerd). Run `scripts/testbed.sh help` for the commands and options.
set -euo pipefail

# TESTBED_ID (1-9) runs another, independent testbed beside the default one: its own names, subnet
# 10.99.ID.0/24 and state dir, so several test runs can share a machine.
readonly ID=${TESTBED_ID:-}
case "$ID" in '' | [1-9]) ;; *) echo "testbed: error: TESTBED_ID must be a digit from 1 to 9, got '$ID'" >&2; exit 1 ;; esac
readonly PREFIX=swarmtb$ID
if [ -n "$ID" ]; then readonly BRIDGE=swarmtb$ID-br; else readonly BRIDGE=swarmtb0; fi
readonly NET=10.99.${ID:-0}             # the testbed /24
readonly BRIDGE_IP=$NET.1
readonly PORT=2375
readonly TLS_PORT=2376                   # hosts whose dockerd args include --tls/--tlsverify
readonly REGISTRY_ADDR=$BRIDGE_IP:5000
readonly RUN_DIR=/run/$PREFIX            # exec roots, sockets, pid files, namespace files
readonly NS_DIR=$RUN_DIR/ns
readonly LOCK_FILE=/run/$PREFIX.lock
readonly FWD_COMMENT=$PREFIX-bridge
readonly MAX_HOSTS=200
readonly MARKER=.swarmtb-testbed         # marks a state dir that `down` may delete
readonly DEFAULT_STORAGE=overlay2,btrfs,vfs
readonly REQUIRED_PACKAGES=(docker.io busybox-static iproute2 btrfs-progs docker-registry)
readonly ENGINE_KINDS="20.10 26"        # engine kinds of --engine; 20.10 is the system dockerd
# Engine kind 26: trixie's dockerd 26.1 with its containerd 1.7, unpacked by scripts/install.sh.
TODAY_DOCKER_DIR=${TODAY_DOCKER_DIR:-/opt/swarm-test/docker-26}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
D=${TESTBED_DIR:-$REPO_DIR/.testbed$ID}
case "$D" in /?*) D=${D%/} ;; *) echo "testbed: error: TESTBED_DIR must be an absolute path other than /, got '$D'" >&2; exit 1 ;; esac
DOCKER=${TESTBED_DOCKER:-docker}
QUIET=0

usage() {
  cat <<'EOF'
Usage: scripts/testbed.sh COMMAND [ARGS]

Creates N real Docker engines on this machine, each in its own network, mount and UTS namespace,
reachable from the root namespace at 10.99.0.(10+i):2375. An engine is dockerd 20.10 (API 1.41, from
Debian's docker.io; the default) or dockerd 26.1 (API 1.45, with its own containerd 1.7, from
$TODAY_DOCKER_DIR, which scripts/install.sh fills). Needs root. Installs docker.io busybox-static
iproute2 btrfs-progs docker-registry with apt if missing.

Commands:
  up N [options]       tear down any previous testbed, then start N hosts (1..200) and wait for all
  down                 kill every engine and its containers, remove namespaces, links, bridge,
                       registry, mounts, loop devices and the state dir; idempotent, safe after a
                       failed or partial `up`
  status               one line per host: name, address, driver, engine kind, dockerd pid, API
                       up/down, engine version and API versions (max, and min if raised), link;
                       exits 0 if every engine (and the registry) answers, 1 if no testbed is up,
                       2 if some engine or the registry does not answer
  env                  print shell exports (TESTBED_HOSTS=10.99.0.11:2375,...,
                       TESTBED_ENGINES=20.10,26,... and more)
  kill-engine I [--hard]
                       kill -9 host I's dockerd, as in a dockerd crash (its containerd dies with
                       it, containers keep running until dockerd starts again and, as it does
                       without live-restore, stops them and restarts those with a restart
                       policy); --hard kills everything host I runs, containers too (a host crash)
  start-engine I       start host I's dockerd again with the same settings (engine kind and
                       minimum API too) and wait for its API
  restart-engine I [--hard]
                       kill-engine then start-engine
  link-down I          set host I's veth (swarmtb-v<I>) down: host unreachable, dockerd still alive
  link-up I            set it up again
  help                 this text

Options of `up` (an option naming a host takes I:VALUE, where I is a host number or `all`):
  --engine I:KIND      engine kind of host I: 20.10 (default: /usr/sbin/dockerd and the system
                       containerd) or 26 ($TODAY_DOCKER_DIR/bin/dockerd, with that dir first on
                       its PATH, so it runs its own containerd 1.7 and shim); e.g. --engine 2:26
  --min-api I:VERSION  start host I's dockerd with DOCKER_MIN_API_VERSION=VERSION, so it refuses
                       older clients; engine kind 26 only. --engine 2:26 --min-api 2:1.44 is a
                       stand-in for Docker Engine 29 (which refuses every API below 1.44)
  --storage LIST       storage drivers by host, comma separated (default overlay2,btrfs,vfs:
                       host 1 overlay2, host 2 btrfs, host 3 vfs); hosts past the list use overlay2.
                       Drivers: overlay2, btrfs (a loop-mounted btrfs image of its own), vfs
  --label I:K=V        engine label (dockerd --label K=V) for host I; repeatable
  --dockerd-arg I:ARG  extra dockerd argument for host I, e.g. --dockerd-arg 2:--debug; repeatable.
                       With --tls/--tlsverify (and --tlscacert=/--tlscert=/--tlskey=) the host serves
                       TLS on 10.99.0.(10+i):2376 instead of plain 2375 (the hosts file says 2376)
  --registry           run a registry (Debian's docker-registry) at 10.99.0.1:5000, make every
                       engine trust it (--insecure-registry) and push busybox there
                       as 10.99.0.1:5000/busybox:latest
  --no-image           do not load the busybox image
  --timeout SECS       bound for waiting on all engines (default 120)
A host-numbered value wins over an all: value; of two for the same host, the last one.

Environment:
  TESTBED_ID           1-9: a second, independent testbed (names swarmtbID-*, bridge swarmtbID-br,
                       subnet 10.99.ID.0/24, state dir <repo>/.testbedID); unset: the default one
  TESTBED_DIR          state dir (default <repo>/.testbed): hosts file, logs, data roots
  TESTBED_STORAGE      same as --storage
  TESTBED_LABELS_<I>   space-separated K=V engine labels for host I, e.g.
                       TESTBED_LABELS_1="init=systemd environment=production"
  TESTBED_DOCKERD_ARGS, TESTBED_DOCKERD_ARGS_<I>
                       space-separated extra dockerd arguments for all hosts / host I
  TESTBED_REGISTRY=1   same as --registry
  TESTBED_TIMEOUT      same as --timeout
  TESTBED_DOCKER       docker CLI to use (default: docker from PATH)
  TODAY_DOCKER_DIR     where engine kind 26 lives (default /opt/swarm-test/docker-26; bin/ holds
                       dockerd, containerd, containerd-shim-runc-v2, docker-proxy, runc, docker-init)

Every engine gets the image busybox:latest (static busybox and its applet links, loaded with
`docker load`, so the image ID is the same on every engine, as after a pull).

Files: $TESTBED_DIR/hosts has one line per host: `NAME IP PORT STORAGE-DRIVER ENGINE-KIND`.
$TESTBED_DIR/node-I/dockerd.log is host I's dockerd log; $TESTBED_DIR/registry.log the registry's;
$TESTBED_DIR/node-I/engine its engine kind, node-I/min-api its DOCKER_MIN_API_VERSION (if any).
Names used on the machine: bridge swarmtb0, netns swarmtb-node-I, veth swarmtb-vI, cgroup /swarmtb,
dir /run/swarmtb, lock /run/swarmtb.lock, iptables FORWARD rule commented swarmtb-bridge.
Only one testbed can run on a machine at a time.
EOF
}

# ---------------------------------------------------------------------------------------------
# helpers

log() { [ "$QUIET" = 1 ] || printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

host_name() { echo "node-$1"; }
host_ip() { echo "$NET.$((10 + $1))"; }
host_netns() { echo "$PREFIX-node-$1"; }
host_veth() { echo "$PREFIX-v$1"; }
host_dir() { echo "$D/node-$1"; }
host_run() { echo "$RUN_DIR/node-$1"; }
# A host started with --tls*/--tlsverify* dockerd args serves TLS on $TLS_PORT (marker file "tls");
# the script itself then reaches it over its plain unix socket.
host_tls() { [ -f "$(host_dir "$1")/tls" ]; }
host_port() { if host_tls "$1"; then echo "$TLS_PORT"; else echo "$PORT"; fi; }
host_api() { if host_tls "$1"; then echo "unix://$(host_run "$1")/docker.sock"; else echo "tcp://$(host_ip "$1"):$PORT"; fi; }
# Engine kind (20.10 or 26) and raised minimum API version (empty: the engine's own) of host i, as
# chosen at `up`; every start of its dockerd reads them.
host_engine() { cat "$(host_dir "$1")/engine" 2>/dev/null || echo 20.10; }
host_min_api() { cat "$(host_dir "$1")/min-api" 2>/dev/null || true; }

# The value of a host option (values I:VALUE or all:VALUE) for host i: the last one naming host i,
# else the last all: one, else the default.
host_option() {
  local i=$1 v_all=$2 v_host="" a
  shift 2
  for a in "$@"; do
    case "${a%%:*}" in "$i") v_host=${a#*:} ;; all) v_all=${a#*:} ;; esac
  done
  echo "${v_host:-$v_all}"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The pids hierarchy (cgroup v1) or the unified hierarchy (cgroup v2) used to track processes.
cg_base() {
  if [ -d /sys/fs/cgroup/pids ] && [ -f /sys/fs/cgroup/pids/cgroup.procs ]; then
    echo /sys/fs/cgroup/pids
  elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo /sys/fs/cgroup
  else
    echo ""
  fi
}

# Print the pids of every process in a cgroup subtree (relative path like swarmtb/node-1).
cg_pids() {
  local base; base=$(cg_base)
  [ -n "$base" ] && [ -d "$base/$1" ] || return 0
  find "$base/$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

# Kill every process in a cgroup subtree, looping until it is empty (bounded), then wait (bounded)
# until init has reaped them, so no zombie dockerd is left to confuse pgrep or a later start.
cg_kill() {
  local sub=$1 i pids all="" p
  for i in $(seq 1 100); do
    pids=$(cg_pids "$sub")
    [ -z "$pids" ] && break
    all+=" $pids"
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  pids=$(cg_pids "$sub")
  [ -z "$pids" ] || { log "warning: processes left in cgroup $sub: $(echo $pids)"; return 1; }
  for i in $(seq 1 50); do
    local left=""
    for p in $all; do [ -e "/proc/$p" ] && left+=" $p"; done
    all=$left
    [ -z "$all" ] && break
    sleep 0.1
  done
  return 0
}

# Remove the cgroup directories of a subtree in every mounted hierarchy (runc made them in each).
cg_rmdirs() {
  local sub=$1 h
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$h/$sub" ] || continue
    find "$h/$sub" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# Is the TCP port open? (no curl needed)
tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# Is host i's engine API answering? (timeout -s KILL would kill timeout itself and make bash
# print "Killed"; TERM then KILL is quiet)
api_ok() {
  timeout -k 2 4 "$DOCKER" -H "$(host_api "$1")" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Is the process alive (and not a zombie waiting for us)?
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

declare -A SPAWNED=()

dockerd_pid() {
  local pidfile pid
  pidfile="$(host_run "$1")/dockerd.pid"
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && alive "$pid" || return 1
  echo "$pid"
}

check_index() {
  [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] || die "host number must be a positive integer, got '$1'"
  [ -f "$(host_dir "$1")/dockerd.args" ] || die "host $1 is not part of the testbed (no $(host_dir "$1")/dockerd.args; run 'up' first)"
}

ensure_packages() {
  local missing=() p
  for p in "${REQUIRED_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} with apt-get"
  # Keep the packages' maintainer scripts from starting the system docker or registry services.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  local rc=0
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >&2 || rc=$?
  [ "$made_policy" = 1 ] && rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed"
}

check_tools() {
  local t
  for t in dockerd "$DOCKER" ip nsenter unshare mkfs.btrfs losetup iptables flock setsid timeout busybox; do
    command -v "$t" >/dev/null || die "missing tool: $t"
  done
}

# Engine kind 26 is not a Debian bookworm package: scripts/install.sh unpacks it.
check_today_docker() {
  local t
  for t in dockerd containerd containerd-shim-runc-v2 docker-proxy runc docker-init; do
    [ -x "$TODAY_DOCKER_DIR/bin/$t" ] || die "engine kind 26 needs $TODAY_DOCKER_DIR/bin/$t (run scripts/install.sh as root)"
  done
}

take_lock() {
  exec 9>"$LOCK_FILE"
  flock -w 600 9 || die "another testbed command holds $LOCK_FILE"
}

# ---------------------------------------------------------------------------------------------
# down

down_all() {
  local h base n ns link f dev

  # 1. Every process of the testbed: dockerds, containerds, shims, containers, registry.
  cg_kill "$PREFIX" || true
  # Fallbacks for anything started outside the cgroup (e.g. by an older version of this script).
  for f in "$RUN_DIR"/*/dockerd.pid "$RUN_DIR"/registry.pid; do
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f" 2>/dev/null || true)
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in dockerd | docker-registry) kill -9 "$pid" 2>/dev/null || true ;; esac
  done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" || true); do
    # shellcheck disable=SC2046
    kill -9 $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null || true
  done
  cg_kill "$PREFIX" || true
  cg_rmdirs "$PREFIX"

  # 2. Persistent namespace files (this frees the mount namespaces, and with them the btrfs mounts).
  if [ -d "$NS_DIR" ]; then
    for f in "$NS_DIR"/*; do
      [ -e "$f" ] || continue
      umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null || true
    done
  fi
  # Anything else mounted under our dirs in the root namespace, deepest first.
  for base in "$RUN_DIR" "$D"; do
    awk -v b="$base" '$5 == b || index($5, b "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
      while read -r f; do umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null || true; done
  done

  # 3. Network: netns (takes their veth ends along), root-side veths, bridge, forward rule.
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^($PREFIX-|$BRIDGE\$)" || true); do
    ip link del "$link" 2>/dev/null || true
  done
  while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$FWD_COMMENT" -j ACCEPT 2>/dev/null; do :; done

  # 4. Loop devices of btrfs images (normally auto-cleared when their mount namespace went away).
  for n in $(seq 1 30); do
    dev=$(losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk -v p="$PREFIX-btrfs.img" 'index($0, p) { print $1 }')
    [ -z "$dev" ] && break
    # shellcheck disable=SC2086
    [ "$n" -gt 5 ] && losetup -d $dev 2>/dev/null
    sleep 0.2
  done
  [ -z "${dev:-}" ] || log "warning: loop devices still attached: $dev"

  # 5. Files. --one-file-system: never delete through a mount we failed to remove.
  rm -rf --one-file-system "$RUN_DIR" 2>/dev/null || true
  if [ -d "$D" ]; then
    if [ -e "$D/$MARKER" ] || [ -z "$(ls -A "$D")" ]; then
      rm -rf --one-file-system "$D" || die "could not remove $D"
    else
      log "warning: not deleting $D: it has no $MARKER file, so it may not be a testbed dir"
    fi
  fi
}

leftovers() {
  local out=""
  [ -n "$(cg_pids "$PREFIX")" ] && out+=" processes"
  ip netns list 2>/dev/null | grep -q "^$PREFIX-" && out+=" netns"
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -qE "^($PREFIX-|$BRIDGE\$)" && out+=" links"
  # Whole path components only: /run/swarmtb must not match another test bed's /run/swarmtb6.
  awk -v r="$RUN_DIR" -v d="$D" '$5 == r || $5 == d || index($5, r "/") == 1 || index($5, d "/") == 1 { f = 1 } END { exit !f }' \
    /proc/self/mountinfo && out+=" mounts"
  echo "$out"
}

cmd_down() {
  need_root
  take_lock
  down_all
  local left; left=$(leftovers)
  [ -z "$left" ] || die "down left behind:$left"
  log "down: nothing left"
}

# ---------------------------------------------------------------------------------------------
# up

# Builds $D/busybox.tar in `docker save` format with a deterministic layer and config, so that
# `docker load` gives the same image ID on every engine.
build_busybox_image() {
  local work=$D/image bb arch diffid cfg cfgsha version
  bb=$(readlink -f "$(command -v busybox)")
  file -b "$bb" 2>/dev/null | grep -q dynamic && die "$bb is dynamically linked; install busybox-static"
  rm -rf "$work"
  mkdir -p "$work/rootfs" "$work/out"
  (
    cd "$work/rootfs"
    mkdir -p bin etc root home tmp var/spool/mail usr/bin usr/sbin sbin proc sys dev
    chmod 1777 tmp
    chmod 700 root
    cp "$bb" bin/busybox
    cd bin
    ./busybox --list | while IFS= read -r app; do
      [ "$app" = busybox ] || ln busybox "$app"
    done
    cd ../etc
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' \
      'bin:x:2:2:bin:/bin:/bin/false' 'sys:x:3:3:sys:/dev:/bin/false' 'sync:x:4:100:sync:/bin:/bin/sync' \
      'mail:x:8:8:mail:/var/spool/mail:/bin/false' 'www-data:x:33:33:www-data:/var/www:/bin/false' \
      'operator:x:37:37:Operator:/var:/bin/false' 'nobody:x:65534:65534:nobody:/home:/bin/false' >passwd
    printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'bin:x:2:' 'sys:x:3:' 'adm:x:4:' 'tty:x:5:' 'disk:x:6:' \
      'wheel:x:10:root' 'mail:x:12:' 'www-data:x:33:' 'operator:x:37:' 'staff:x:50:' 'users:x:100:' \
      'nogroup:x:65533:' 'nobody:x:65534:' >group
  )
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" .
  diffid=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  version=$({ "$bb" 2>&1 || true; } | sed -n '1{s/["\\]//g;p;q}')
  cfg=$(printf '{"architecture":"%s","os":"linux","created":"2000-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"2000-01-01T00:00:00Z","created_by":"swarm testbed: %s"}]}' \
    "$arch" "$diffid" "$version")
  cfgsha=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
  mkdir -p "$work/out/$diffid"
  mv "$work/layer.tar" "$work/out/$diffid/layer.tar"
  printf '%s' "$cfg" >"$work/out/$cfgsha.json"
  printf '[{"Config":"%s.json","RepoTags":["busybox:latest"],"Layers":["%s/layer.tar"]}]' "$cfgsha" "$diffid" >"$work/out/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/out" -cf "$D/busybox.tar.tmp" .
  mv "$D/busybox.tar.tmp" "$D/busybox.tar"
  echo "sha256:$cfgsha" >"$D/busybox.id"
  rm -rf "$work"
}

setup_network() {
  mkdir -p /var/run/netns
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # With br_netfilter loaded (bridge-nf-call-iptables=1) frames between bridge ports go through the
  # root namespace's FORWARD chain, whose policy may be DROP (e.g. after a system dockerd ran).
  iptables -I FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$FWD_COMMENT" -j ACCEPT 2>/dev/null ||
    log "warning: could not add the FORWARD rule for $BRIDGE (host-to-host traffic may be filtered)"
}

# Creates host i's namespaces, network and directories (not its dockerd).
setup_host() {
  local i=$1 name ip ns veth dir run driver
  name=$(host_name "$i"); ip=$(host_ip "$i"); ns=$(host_netns "$i"); veth=$(host_veth "$i")
  dir=$(host_dir "$i"); run=$(host_run "$i"); driver=$(cat "$dir/storage")

  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  nsenter --net="/var/run/netns/$ns" sh -ec "
    ip link set lo up
    ip addr add $ip/24 dev eth0
    ip link set eth0 up
    ip route add default via $BRIDGE_IP"

  mkdir -p "$dir/etc-docker" "$dir/data" "$run/exec"
  if [ "$driver" = btrfs ]; then
    truncate -s 4G "$dir/$PREFIX-btrfs.img"
    mkfs.btrfs -q -f "$dir/$PREFIX-btrfs.img" >/dev/null
  fi

  # Persistent mount and UTS namespaces, bound on files in $NS_DIR so dockerd can be restarted
  # into the same ones (its containers' shims keep living in them).
  touch "$NS_DIR/$name.mnt" "$NS_DIR/$name.uts"
  unshare --mount="$NS_DIR/$name.mnt" --uts="$NS_DIR/$name.uts" --propagation private \
    sh -ec '
      hostname "$1"
      umount -l "$5" 2>/dev/null || true                       # the other hosts namespace files
      umount -R -l /run/netns 2>/dev/null || true              # the root netns list
      mount --bind "$2/etc-docker" /etc/docker                 # own key.json, so own engine ID
      mount -t tmpfs -o mode=711 tmpfs /run/containerd   # never the system containerd
      if [ "$3" = btrfs ]; then mount -o loop "$2/$4-btrfs.img" "$2/data"; fi
    ' sh "$name" "$dir" "$driver" "$PREFIX" "$NS_DIR"
}

# Writes host i's dockerd arguments to $dir/dockerd.args (one per line), used by every start.
write_dockerd_args() {
  local i=$1 dir run ip driver extra_var label_var a tls_given=0
  dir=$(host_dir "$i"); run=$(host_run "$i"); ip=$(host_ip "$i"); driver=$(cat "$dir/storage")
  local args=(
    --data-root "$dir/data"
    --exec-root "$run/exec"
    --pidfile "$run/dockerd.pid"
    -H "unix://$run/docker.sock"
    -H "tcp://$ip:$PORT"
    --bip "10.$((128 + ${ID:-0})).$i.1/24"
    --storage-driver "$driver"
    --cgroup-parent "/$PREFIX/node-$i/containers"
  )
  [ "$REGISTRY" = 1 ] && args+=(--insecure-registry "$REGISTRY_ADDR")
  label_var=TESTBED_LABELS_$i
  local env_labels=()
  read -r -a env_labels <<<"${!label_var:-}"
  for a in "${env_labels[@]+"${env_labels[@]}"}"; do args+=("--label=$a"); done
  for a in "${LABELS[@]+"${LABELS[@]}"}"; do
    case "${a%%:*}" in "$i" | all) args+=("--label=${a#*:}") ;; esac
  done
  extra_var=TESTBED_DOCKERD_ARGS_$i
  local extra=() more=()
  read -r -a extra <<<"${TESTBED_DOCKERD_ARGS:-}"
  read -r -a more <<<"${!extra_var:-}"
  extra+=("${more[@]+"${more[@]}"}")
  for a in "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"; do
    case "${a%%:*}" in "$i" | all) extra+=("${a#*:}") ;; esac
  done
  for a in "${extra[@]+"${extra[@]}"}"; do
    case "$a" in --tls | --tls=* | --tlsverify*) tls_given=1 ;; esac
  done
  # An explicit --tls=false skips dockerd's 15 s "insecure TCP" startup delay.
  [ "$tls_given" = 1 ] || args+=(--tls=false)
  # TLS hosts listen on $TLS_PORT instead of $PORT (do not pass -H tcp://...:2376 yourself).
  rm -f "$dir/tls"
  if [ "$tls_given" = 1 ]; then
    touch "$dir/tls"
    args=("${args[@]/#tcp:\/\/$ip:$PORT/tcp://$ip:$TLS_PORT}")
  fi
  args+=("${extra[@]+"${extra[@]}"}")
  printf '%s\n' "${args[@]}" >"$dir/dockerd.args"
}

# Starts host i's dockerd in the background inside its namespaces and cgroup.
start_dockerd() {
  local i=$1 name dir run cg base
  name=$(host_name "$i"); dir=$(host_dir "$i"); run=$(host_run "$i")
  [ -e "$NS_DIR/$name.mnt" ] || die "host $i has no namespaces (run 'up' again)"
  if dockerd_pid "$i" >/dev/null; then die "host $i's dockerd is already running (pid $(dockerd_pid "$i"))"; fi
  rm -f "$run/dockerd.pid"
  # dockerd reuses the containerd named in this pid file if kill(pid, 0) succeeds, which it does
  # for a zombie not yet reaped by init; it then waits for that containerd's socket in vain.
  local cpidf=$run/exec/containerd/containerd.pid cpid
  cpid=$(cat "$cpidf" 2>/dev/null || true)
  if [ -n "$cpid" ] && ! alive "$cpid"; then rm -f "$cpidf"; fi
  local args=() kind min_api
  mapfile -t args <"$dir/dockerd.args"
  kind=$(host_engine "$i"); min_api=$(host_min_api "$i")
  # dockerd starts the containerd, shim, runc, docker-proxy and docker-init it finds on its PATH:
  # kind 26 must find the ones beside it, kind 20.10 the system's. A minimum API version inherited
  # from the caller's environment would change the engine, so only the chosen one is passed.
  local dockerd=dockerd envs=(-u DOCKER_MIN_API_VERSION)
  if [ "$kind" = 26 ]; then
    check_today_docker
    dockerd=$TODAY_DOCKER_DIR/bin/dockerd
    envs+=("PATH=$TODAY_DOCKER_DIR/bin:$PATH")
  fi
  [ -z "$min_api" ] || envs+=("DOCKER_MIN_API_VERSION=$min_api")
  base=$(cg_base)
  cg=""
  if [ -n "$base" ]; then
    cg="$base/$PREFIX/node-$i/daemon"
    mkdir -p "$cg"
  fi
  echo "=== $(date -Is) starting $dockerd${min_api:+ (DOCKER_MIN_API_VERSION=$min_api)} ${args[*]}" >>"$dir/dockerd.log"
  setsid sh -c '
      cg=$1; shift
      if [ -n "$cg" ]; then echo $$ >"$cg/cgroup.procs"; fi
      exec "$@"' sh "$cg" \
    nsenter --net="/var/run/netns/$(host_netns "$i")" --mount="$NS_DIR/$name.mnt" --uts="$NS_DIR/$name.uts" -- \
    env "${envs[@]}" "$dockerd" "${args[@]}" </dev/null >>"$dir/dockerd.log" 2>&1 9>&- &
  SPAWNED[$i]=$!   # setsid, nsenter and env exec, so this becomes dockerd's pid
}

# Waits until the engines' APIs answer; fails early if a dockerd exited.
wait_engines() {
  local deadline=$(($(date +%s) + $1)) i pending
  shift
  pending=("$@")
  while [ ${#pending[@]} -gt 0 ]; do
    local still=()
    for i in "${pending[@]}"; do
      api_ok "$i" && continue
      if [ -n "${SPAWNED[$i]:-}" ] && ! alive "${SPAWNED[$i]}" && ! api_ok "$i"; then
        echo "--- host $i dockerd.log (last lines)" >&2
        tail -n 30 "$(host_dir "$i")/dockerd.log" >&2 || true
        die "dockerd of host $i exited (log: $(host_dir "$i")/dockerd.log)"
      fi
      still+=("$i")
    done
    pending=("${still[@]+"${still[@]}"}")
    [ ${#pending[@]} -eq 0 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      for i in "${pending[@]}"; do
        echo "--- host $i dockerd.log (last lines)" >&2
        tail -n 20 "$(host_dir "$i")/dockerd.log" >&2 || true
      done
      die "timed out waiting for engine(s) ${pending[*]}"
    fi
    sleep 0.3
  done
}

start_registry() {
  local dir=$D/registry cg base
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  base=$(cg_base)
  cg=""
  if [ -n "$base" ]; then cg="$base/$PREFIX/registry"; mkdir -p "$cg"; fi
  setsid sh -c '
      cg=$1; pidfile=$2; shift 2
      if [ -n "$cg" ]; then echo $$ >"$cg/cgroup.procs"; fi
      echo $$ >"$pidfile"
      exec "$@"' sh "$cg" "$RUN_DIR/registry.pid" \
    docker-registry serve "$dir/config.yml" </dev/null >>"$D/registry.log" 2>&1 9>&- &
}

wait_registry() {
  local deadline=$(($(date +%s) + 30))
  until tcp_open "$BRIDGE_IP" 5000; do
    [ "$(date +%s)" -lt "$deadline" ] || { tail -n 20 "$D/registry.log" >&2; die "registry did not start"; }
    sleep 0.2
  done
}

cmd_up() {
  need_root
  local n=${1:-}
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$MAX_HOSTS" ] || die "usage: up N [options] (N from 1 to $MAX_HOSTS)"
  shift
  local storage=${TESTBED_STORAGE:-$DEFAULT_STORAGE} timeout=${TESTBED_TIMEOUT:-120} load_image=1
  REGISTRY=${TESTBED_REGISTRY:-0}
  LABELS=()
  EXTRA_ARGS=()
  local engines=() min_apis=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --storage) storage=${2:?--storage needs a value}; shift 2 ;;
      --storage=*) storage=${1#*=}; shift ;;
      --label) LABELS+=("${2:?--label needs I:K=V}"); shift 2 ;;
      --label=*) LABELS+=("${1#*=}"); shift ;;
      --dockerd-arg) EXTRA_ARGS+=("${2:?--dockerd-arg needs I:ARG}"); shift 2 ;;
      --dockerd-arg=*) EXTRA_ARGS+=("${1#*=}"); shift ;;
      --engine) engines+=("${2:?--engine needs I:KIND}"); shift 2 ;;
      --engine=*) engines+=("${1#*=}"); shift ;;
      --min-api) min_apis+=("${2:?--min-api needs I:VERSION}"); shift 2 ;;
      --min-api=*) min_apis+=("${1#*=}"); shift ;;
      --registry) REGISTRY=1; shift ;;
      --no-image) load_image=0; shift ;;
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      --timeout=*) timeout=${1#*=}; shift ;;
      *) die "unknown option for up: $1 (see 'scripts/testbed.sh help')" ;;
    esac
  done
  local a
  for a in "${LABELS[@]+"${LABELS[@]}"}" "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}" \
    "${engines[@]+"${engines[@]}"}" "${min_apis[@]+"${min_apis[@]}"}"; do
    [[ "$a" =~ ^([0-9]+|all): ]] || die "host option value must look like I:VALUE or all:VALUE, got '$a'"
  done
  for a in "${engines[@]+"${engines[@]}"}"; do
    case " $ENGINE_KINDS " in *" ${a#*:} "*) ;; *) die "unknown engine kind '${a#*:}' in --engine $a (one of: $ENGINE_KINDS)" ;; esac
  done
  for a in "${min_apis[@]+"${min_apis[@]}"}"; do
    [[ "${a#*:}" =~ ^1\.[0-9]+$ ]] || die "--min-api needs an API version like 1.44, got '$a'"
  done
  [[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout needs whole seconds, got '$timeout'"
  local drivers i driver
  IFS=, read -r -a drivers <<<"$storage"
  for driver in "${drivers[@]+"${drivers[@]}"}"; do
    case "$driver" in overlay2 | btrfs | vfs) ;; *) die "unsupported storage driver '$driver' (overlay2, btrfs or vfs)" ;; esac
  done
  # Per-host engine kind and minimum API; dockerd 20.10 has no DOCKER_MIN_API_VERSION.
  local kinds=() mins=() need26=0
  for i in $(seq 1 "$n"); do
    kinds[i]=$(host_option "$i" 20.10 "${engines[@]+"${engines[@]}"}")
    mins[i]=$(host_option "$i" "" "${min_apis[@]+"${min_apis[@]}"}")
    [ -z "${mins[i]}" ] || [ "${kinds[i]}" = 26 ] || die "--min-api needs engine kind 26, but host $i is ${kinds[i]} (add --engine $i:26)"
    [ "${kinds[i]}" != 26 ] || need26=1
  done

  ensure_packages
  check_tools
  [ "$need26" = 0 ] || check_today_docker
  take_lock
  local t0; t0=$(now)

  down_all
  [ -z "$(leftovers)" ] || die "a previous testbed could not be removed:$(leftovers)"

  mkdir -p "$D" "$RUN_DIR" "$NS_DIR" /etc/docker /run/containerd
  touch "$D/$MARKER"
  # Namespace files must live on a private mount.
  mount --bind "$NS_DIR" "$NS_DIR"
  mount --make-private "$NS_DIR"

  for i in $(seq 1 "$n"); do
    driver=${drivers[$((i - 1))]:-overlay2}
    mkdir -p "$(host_dir "$i")"
    echo "$driver" >"$(host_dir "$i")/storage"
    echo "${kinds[i]}" >"$(host_dir "$i")/engine"
    if [ -n "${mins[i]}" ]; then echo "${mins[i]}" >"$(host_dir "$i")/min-api"; fi
  done

  local bb_pid=""
  if [ "$load_image" = 1 ]; then
    build_busybox_image >"$D/image-build.log" 2>&1 9>&- &
    bb_pid=$!
  fi

  setup_network
  [ "$REGISTRY" = 1 ] && start_registry
  for i in $(seq 1 "$n"); do
    setup_host "$i"
    write_dockerd_args "$i"
    start_dockerd "$i"
  done
  log "started $n dockerd(s) in $(elapsed "$t0") s; waiting for their APIs (up to ${timeout} s)"

  wait_engines "$timeout" $(seq 1 "$n")
  log "all $n engines answer after $(elapsed "$t0") s"
  [ "$REGISTRY" = 1 ] && wait_registry

  local ip pids=() failed=0 p
  if [ "$load_image" = 1 ]; then
    wait "$bb_pid" || { cat "$D/image-build.log" >&2; die "building the busybox image failed"; }
    for i in $(seq 1 "$n"); do
      ip=$(host_ip "$i")
      timeout -k 5 120 "$DOCKER" -H "$(host_api "$i")" load -q -i "$D/busybox.tar" >"$(host_dir "$i")/image-load.log" 2>&1 &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    [ "$failed" = 0 ] || { cat "$D"/node-*/image-load.log >&2; die "loading busybox into the engines failed"; }
    log "busybox loaded after $(elapsed "$t0") s"
  fi

  # Check the engines are distinct and use the requested drivers.
  local info ids="" names="" id name drv
  for i in $(seq 1 "$n"); do
    info=$(timeout -k 5 20 "$DOCKER" -H "$(host_api "$i")" info --format '{{.ID}} {{.Name}} {{.Driver}}') ||
      die "docker info failed on host $i"
    read -r id name drv <<<"$info"
    [ "$drv" = "$(cat "$(host_dir "$i")/storage")" ] || die "host $i uses storage driver $drv, wanted $(cat "$(host_dir "$i")/storage")"
    [ "$name" = "$(host_name "$i")" ] || die "host $i reports name $name, wanted $(host_name "$i")"
    ids+="$id"$'\n'; names+="$name"$'\n'
  done
  [ "$(printf '%s' "$ids" | sort -u | wc -l)" = "$n" ] || die "engine IDs are not distinct: $(echo $ids)"
  [ "$(printf '%s' "$names" | sort -u | wc -l)" = "$n" ] || die "engine names are not distinct"

  if [ "$REGISTRY" = 1 ] && [ "$load_image" = 1 ]; then
    local h1
    h1=$(host_api 1)
    timeout -k 5 30 "$DOCKER" -H "$h1" tag busybox:latest "$REGISTRY_ADDR/busybox:latest"
    timeout -k 5 120 "$DOCKER" -H "$h1" push -q "$REGISTRY_ADDR/busybox:latest" >/dev/null ||
      die "pushing busybox to the registry failed"
    timeout -k 5 30 "$DOCKER" -H "$h1" rmi "$REGISTRY_ADDR/busybox:latest" >/dev/null
  fi

  {
    for i in $(seq 1 "$n"); do
      echo "$(host_name "$i") $(host_ip "$i") $(host_port "$i") $(cat "$(host_dir "$i")/storage") $(host_engine "$i")"
    done
  } >"$D/hosts.tmp"
  mv "$D/hosts.tmp" "$D/hosts"
  if [ "$REGISTRY" = 1 ]; then echo "$REGISTRY_ADDR" >"$D/registry.addr"; fi

  log "up $n hosts in $(elapsed "$t0") s (state: $D)"
  summary
}

summary() {
  local name ip port driver kind
  printf '%-8s %-16s %-9s %-14s %s\n' NAME ADDRESS DRIVER ENGINE LABELS
  while read -r name ip port driver kind _; do
    local i=${name#node-} min_api
    min_api=$(host_min_api "$i")
    printf '%-8s %-16s %-9s %-14s %s\n' "$name" "$ip:$port" "$driver" "$kind${min_api:+ min $min_api}" \
      "$(grep -- '^--label=' "$(host_dir "$i")/dockerd.args" | sed 's/^--label=//' | tr '\n' ' ' || true)"
  done <"$D/hosts"
  if [ -f "$D/registry.addr" ]; then echo "registry: $(cat "$D/registry.addr")"; fi
}

# ---------------------------------------------------------------------------------------------
# other commands

require_testbed() { [ -f "$D/hosts" ] || die "no testbed is up (no $D/hosts)"; }

cmd_status() {
  require_testbed
  local name ip port driver kind i pid api version link rc=0
  printf '%-8s %-16s %-9s %-6s %-8s %-5s %-36s %s\n' NAME ADDRESS DRIVER ENGINE PID API VERSION LINK
  while read -r name ip port driver kind _; do
    i=${name#node-}
    pid=$(dockerd_pid "$i" || echo -)
    # One request tells both whether the API answers and which engine and API versions it has.
    if version=$(timeout -k 2 4 "$DOCKER" -H "$(host_api "$i")" version \
      --format '{{.Server.Version}} api {{.Server.APIVersion}} min {{.Server.MinAPIVersion}}' 2>/dev/null); then
      api=up
    else
      api=down; version=-; rc=2
    fi
    link=$(ip -o link show "$(host_veth "$i")" 2>/dev/null | grep -q 'state UP\|,UP' && echo up || echo down)
    printf '%-8s %-16s %-9s %-6s %-8s %-5s %-36s %s\n' "$name" "$ip:$port" "$driver" "${kind:-20.10}" "$pid" "$api" "$version" "$link"
  done <"$D/hosts"
  if [ -f "$D/registry.addr" ]; then
    if tcp_open "$BRIDGE_IP" 5000; then echo "registry: $(cat "$D/registry.addr") up"; else echo "registry: $(cat "$D/registry.addr") down"; rc=2; fi
  fi
  return "$rc"
}

cmd_env() {
  require_testbed
  local hosts="" kind_list="" name ip port driver kind
  while read -r name ip port driver kind _; do
    hosts+="${hosts:+,}$ip:$port"
    kind_list+="${kind_list:+,}${kind:-20.10}"
  done <"$D/hosts"
  echo "export TESTBED_DIR=$D"
  echo "export TESTBED_HOSTS=$hosts"
  echo "export TESTBED_ENGINES=$kind_list"
  echo "export TESTBED_BRIDGE_IP=$BRIDGE_IP"
  if [ -f "$D/registry.addr" ]; then echo "export TESTBED_REGISTRY=$(cat "$D/registry.addr")"; fi
}

kill_engine() {
  local i=$1 hard=$2 pid
  if [ "$hard" = 1 ]; then
    cg_kill "$PREFIX/node-$i" || die "could not kill all processes of host $i"
    return 0
  fi
  if pid=$(dockerd_pid "$i"); then
    kill -9 "$pid"
    local n
    for n in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.05
    done
    ! alive "$pid" || die "dockerd $pid of host $i did not die"
    # dockerd's containerd dies with it (parent-death signal); wait for that too.
    local cpid
    cpid=$(cat "$(host_run "$i")/exec/containerd/containerd.pid" 2>/dev/null || true)
    if [ -n "$cpid" ]; then
      for n in $(seq 1 100); do
        alive "$cpid" || break
        sleep 0.05
      done
    fi
  else
    log "host $i's dockerd is not running"
  fi
}

cmd_kill_engine() {
  need_root
  local i=${1:-} hard=0
  [ "${2:-}" = --hard ] && hard=1
  check_index "$i"
  take_lock
  kill_engine "$i" "$hard"
  log "killed host $i's $([ "$hard" = 1 ] && echo 'processes' || echo dockerd)"
}

cmd_start_engine() {
  need_root
  local i=${1:-}
  check_index "$i"
  take_lock
  local t0; t0=$(now)
  start_dockerd "$i"
  wait_engines "${TESTBED_TIMEOUT:-120}" "$i"
  log "host $i's engine answers after $(elapsed "$t0") s"
}

cmd_restart_engine() {
  need_root
  local i=${1:-} hard=0
  [ "${2:-}" = --hard ] && hard=1
  check_index "$i"
  take_lock
  local t0; t0=$(now)
  kill_engine "$i" "$hard"
  start_dockerd "$i"
  wait_engines "${TESTBED_TIMEOUT:-120}" "$i"
  log "host $i's engine restarted in $(elapsed "$t0") s"
}

cmd_link() {
  need_root
  local i=${1:-} state=$2
  check_index "$i"
  ip link set "$(host_veth "$i")" "$state" || die "could not set $(host_veth "$i") $state"
  log "link of host $i is $state"
}

main() {
  local cmd=${1:-help}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    kill-engine) cmd_kill_engine "$@" ;;
    start-engine) cmd_start_engine "$@" ;;
    restart-engine) cmd_restart_engine "$@" ;;
    link-down) cmd_link "${1:-}" down ;;
    link-up) cmd_link "${1:-}" up ;;
    help | -h | --help) usage ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
