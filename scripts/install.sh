#!/usr/bin/env bash
# Installs everything swarm's build, tests and demo need on a fresh Debian machine (run as root):
# Debian packages (real Docker engines, busybox for the test image, etcd, ZooKeeper, a registry) and
# the npm dependencies (bun comes from npm, so nothing else is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker.io docker-compose shellcheck python3-docker busybox-static iproute2 btrfs-progs etcd-server zookeeper docker-registry openssl git curl musl-tools libzstd-dev qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross zstd file)
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

# Today's Docker, for the tests: Debian trixie's dockerd 26.1 (API 1.45) with its containerd, and the
# docker CLI plugins buildx 0.13 and compose 2.26. They are unpacked into TODAY_DOCKER_DIR, never
# installed, so the system's own packages stay bookworm's: a temporary apt source for trixie is added,
# the .debs downloaded, and the source removed again. trixie's runc needs glibc 2.38, so bookworm's
# runc and docker-init are linked in instead.
TODAY_DOCKER_DIR=${TODAY_DOCKER_DIR:-/opt/swarm-test/docker-26}
if [[ ! -x $TODAY_DOCKER_DIR/bin/dockerd || ! -x $TODAY_DOCKER_DIR/cli-plugins/docker-buildx || ! -x $TODAY_DOCKER_DIR/cli-plugins/docker-compose ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: $TODAY_DOCKER_DIR is missing; run as root to unpack trixie's dockerd 26 and CLI plugins" >&2
    exit 1
  fi
  echo "install.sh: unpacking trixie's docker.io 26, containerd, docker-buildx and docker-compose into $TODAY_DOCKER_DIR" >&2
  src=/etc/apt/sources.list.d/swarm-test-trixie.sources
  work=$(mktemp -d)
  trap 'rm -f "$src"; rm -rf "$work"' EXIT
  uris=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "${uris:-http://deb.debian.org/debian}" >"$src"
  apt-get update -q >/dev/null
  (cd "$work" && apt-get download -q docker.io/trixie containerd/trixie docker-buildx/trixie docker-compose/trixie >/dev/null 2>&1)
  rm -f "$src"
  apt-get update -q >/dev/null
  mkdir -p "$work/x"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
  rm -rf "$TODAY_DOCKER_DIR"
  mkdir -p "$TODAY_DOCKER_DIR/bin" "$TODAY_DOCKER_DIR/cli-plugins"
  for b in usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/bin/ctr; do
    cp "$work/x/$b" "$TODAY_DOCKER_DIR/bin/"
  done
  ln -s /usr/sbin/runc "$TODAY_DOCKER_DIR/bin/runc"
  ln -s /usr/bin/docker-init "$TODAY_DOCKER_DIR/bin/docker-init"
  cp "$work/x/usr/libexec/docker/cli-plugins/docker-buildx" "$work/x/usr/libexec/docker/cli-plugins/docker-compose" "$TODAY_DOCKER_DIR/cli-plugins/"
  rm -rf "$work"
  trap - EXIT
  "$TODAY_DOCKER_DIR/bin/dockerd" --version >&2
fi

if [[ ! -x node_modules/.bin/bun ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
