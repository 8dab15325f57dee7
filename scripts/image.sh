#!/usr/bin/env bash
# Builds the FROM-scratch image of swarm with a local Docker engine (no registry, no base image).
#   scripts/image.sh build [-t TAG]      build dist/swarm if needed, then the image (default swarm:latest)
#   scripts/image.sh measure [-t TAG]    print the image size (raw and gzipped) and `swarm --help` start-up time
# The engine is the one DOCKER_HOST points at (e.g. a test-bed host: DOCKER_HOST=tcp://10.99.0.11:2375).
# SWARM_BIN=FILE uses another compiled binary than dist/swarm (e.g. one built with SWARM_BYTECODE=0).
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-build}; shift || true
tag=swarm:latest
bin=${SWARM_BIN:-dist/swarm}
while (($#)); do
  case $1 in
    -t|--tag) tag=$2; shift 2 ;;
    *) echo "image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

build() {
  [[ -n ${SWARM_BIN:-} || -x dist/swarm ]] || npm run --silent build
  [[ -x $bin ]] || { echo "image.sh: $bin is not an executable" >&2; exit 1; }
  local ctx
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  mkdir -p "$ctx/rootfs/etc/ssl/certs"
  cp "$bin" "$ctx/rootfs/swarm"
  # Exactly what the binary links against, at the paths the loader looks for them.
  # ([[:space:]], not \s: Debian's mawk has no \s and would drop the loader line.)
  ldd "$bin" | awk '/=>/ {print $3} /^[[:space:]]*\/lib/ {print $1}' | while read -r lib; do
    [[ -n $lib && -e $lib ]] || continue
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
  done
  cp -L /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
  # A writable /tmp for TLS material and unix sockets users may mount.
  mkdir -p "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  cp Dockerfile.scratch "$ctx/Dockerfile"
  # The legacy builder works with any engine (20.10 included); DOCKER_BUILDKIT=0 says so up front.
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null 2> >(grep -v -e 'DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' -e 'environment-variable.' >&2)
  echo "built image $tag" >&2
}

measure() {
  local size gz
  size=$(docker image inspect -f '{{.Size}}' "$tag")
  gz=$(docker save "$tag" | gzip -9 | wc -c)
  awk -v t="$tag" -v s="$size" -v g="$gz" 'BEGIN { printf "image %s: %.1f MB, %.1f MB as docker save | gzip -9\n", t, s / 1e6, g / 1e6 }'
  # Start-up: median wall time of `swarm --help` over 20 runs of the binary on the host.
  local times=() i t0 t1
  for i in $(seq 20); do
    t0=$(date +%s%N); "$bin" --help >/dev/null; t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf 'swarm --help start-up: median %s ms over 20 runs\n' "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')"
  awk -v b="$bin" -v s="$(stat -c %s "$bin")" 'BEGIN { printf "binary %s: %.1f MB\n", b, s / 1e6 }'
  # The same from the image, container start included (5 runs).
  times=()
  for i in $(seq 5); do
    t0=$(date +%s%N); docker run --rm "$tag" --help >/dev/null; t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf 'docker run --rm %s --help: median %s ms over 5 runs (container start included)\n' "$tag" "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]/1000}')"
}

case $cmd in
  build) build ;;
  measure) measure ;;
  *) echo "usage: scripts/image.sh build|measure [-t TAG]" >&2; exit 2 ;;
esac
