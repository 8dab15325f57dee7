#!/usr/bin/env bash
# Installs everything swarm's build, tests and demo need on a fresh Debian machine (run as root):
# Debian packages (real Docker engines, busybox for the test image, etcd, ZooKeeper, a registry) and
# the npm dependencies (bun comes from npm, so nothing else is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker.io busybox-static iproute2 btrfs-progs etcd-server zookeeper docker-registry openssl git curl)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "install.sh: installing ${missing[*]}" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # The packaged services are not wanted running: the test bed starts its own instances.
  for svc in docker containerd etcd zookeeper docker-registry; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
fi

if [[ ! -x node_modules/.bin/bun ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
