#!/usr/bin/env bash
# Builds swarm's FROM-scratch images (Dockerfile.scratch) with a Docker engine (no base image, no
# registry needed), for amd64 and arm64, in two variants:
#   small  /swarm is loader/swarm-loader.c, a static program carrying the binary zstd-compressed; it
#          unpacks it into memory (memfd) and executes it there with the same argv, env and pid
#   plain  /swarm is the compiled binary itself
#
#   scripts/image.sh build [-t TAG] [--small|--plain] [--arch amd64|arm64]
#       build the binary if missing (dist/swarm, dist/swarm-linux-arm64), then the image (default
#       swarm:latest, plain variant, this machine's architecture)
#   scripts/image.sh measure [-t TAG]
#       image size (raw and `docker save | gzip -9`); start-up of the image's /swarm on this machine
#       (median of 20 runs of --version, --help, list nodes://...) and of `docker run --rm TAG --version`
#   scripts/image.sh sysroot [--arch arm64]
#       print a directory holding Debian's libc6 of that architecture (for qemu-aarch64-static -L DIR)
#   scripts/image.sh index REGISTRY/REPO[:TAG] [--small|--plain]
#       build both architectures, push them as REPO:TAG-amd64 and REPO:TAG-arm64 and push a
#       two-platform image index REPO:TAG (the engines' classic image store holds one platform per
#       tag, so the index lives in the registry; plain-HTTP registries are allowed)
#
# The engine is the one DOCKER_HOST points at (e.g. a test-bed host: DOCKER_HOST=tcp://10.99.0.11:2375).
# SWARM_BIN=FILE makes `build` use another compiled binary (of the --arch architecture).
# SWARM_ZSTD_LEVEL (default 19) and SWARM_ZSTD_FRAMES (default 4) tune the small variant's payload.
# arm64 needs no arm64 machine: bun cross-compiles, the loader and libraries come from Debian's arm64
# packages (fetched with a private apt state under dist/.cache, the system's apt is not changed), the
# small variant's loader is built with gcc-aarch64-linux-gnu.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-build}
shift || true
tag=swarm:latest
variant=plain
host_arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
arch=$host_arch
cache=dist/.cache
while (($#)); do
  case $1 in
    -t | --tag) tag=$2; shift 2 ;;
    --small) variant=small; shift ;;
    --plain) variant=plain; shift ;;
    --arch) arch=$2; shift 2 ;;
    -*) echo "image.sh: unknown option $1" >&2; exit 2 ;;
    *) [[ $cmd == index ]] || { echo "image.sh: unexpected argument $1" >&2; exit 2; }; tag=$1; shift ;;
  esac
done
case $arch in amd64 | arm64) ;; *) echo "image.sh: --arch must be amd64 or arm64, got $arch" >&2; exit 2 ;; esac

# An architecture's Debian multiarch triplet and bun's name for it.
triplet() { case $1 in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }
target_of() { case $1 in amd64) echo linux-x64 ;; arm64) echo linux-arm64 ;; esac; }

# The compiled binary for an architecture, built if missing.
binary() {
  local a=$1 file
  if [[ -n ${SWARM_BIN:-} ]]; then echo "$SWARM_BIN"; return; fi
  if [[ $a == "$host_arch" ]]; then file=dist/swarm; else file=dist/swarm-$(target_of "$a"); fi
  if [[ ! -x $file ]]; then
    if [[ $a == "$host_arch" ]]; then npm run --silent build >&2; else SWARM_TARGET=$(target_of "$a") npm run --silent build >&2; fi
  fi
  echo "$file"
}

# A private apt state for Debian's packages of another architecture; prints its apt-get options.
apt_options() {
  local a=$1 dir
  dir=$(realpath -m "$cache/apt-$a")
  mkdir -p "$dir/lists/partial" "$dir/archives/partial"
  printf '%s\n' -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir" -o "Dir::State::status=/dev/null" \
    -o "APT::Architecture=$a" -o "APT::Architectures::=$a"
}

# Debian's packages (of architecture $1) unpacked into one directory, once; prints that directory.
sysroot() {
  local a=$1 dir opts
  shift
  local IFS=-
  dir=$cache/sysroot-$a-$*
  unset IFS
  local stamp="$dir/.complete"
  if [[ ! -f $stamp ]]; then
    mapfile -t opts < <(apt_options "$a")
    echo "image.sh: fetching Debian's $a packages $*" >&2
    apt-get "${opts[@]}" -q update >/dev/null
    local debs
    debs=$(mktemp -d)
    # apt's download sandbox user cannot write into a root-owned temp dir; none is needed here.
    (cd "$debs" && apt-get "${opts[@]}" -o APT::Sandbox::User=root -q download "${@/%/:$a}" >/dev/null)
    rm -rf "$dir"
    mkdir -p "$dir"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
    rm -rf "$debs"
    touch "$stamp"
  fi
  echo "$dir"
}

# Copies into rootfs $2 exactly the dynamic loader and libraries binary $1 (of arch $3) needs.
copy_libraries() {
  local bin=$1 root=$2 a=$3 lib
  if [[ $a == "$host_arch" ]]; then
    # ([[:space:]], not \s: Debian's mawk has no \s and would drop the loader line.)
    ldd "$bin" | awk '/=>/ {print $3} /^[[:space:]]*\/lib/ {print $1}' | while read -r lib; do
      [[ -n $lib && -e $lib ]] || continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    return
  fi
  # Another architecture: its loader (the ELF interpreter) and NEEDED libraries from Debian's libc6.
  local sys interp dir
  sys=$(sysroot "$a" libc6)
  dir=/lib/$(triplet "$a")
  interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  [[ -n $interp ]] || { echo "image.sh: $bin has no ELF interpreter" >&2; exit 1; }
  mkdir -p "$root$(dirname "$interp")" "$root$dir"
  cp -L "$sys$interp" "$root$interp"
  readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r lib; do
    if [[ -e $sys$dir/$lib ]]; then cp -L "$sys$dir/$lib" "$root$dir/$lib"; else echo "image.sh: $lib not in Debian's $a libc6" >&2; exit 1; fi
  done
}

# The loader (loader/swarm-loader.c) for arch $1, static, with zstd's decoder; prints its path.
loader() {
  local a=$1 out=$cache/swarm-loader-$1
  local partial=$out.$$
  mkdir -p "$cache"
  [[ -f /usr/include/zstd.h ]] || { echo "image.sh: zstd.h is missing (apt-get install libzstd-dev)" >&2; exit 1; }
  if [[ $a == amd64 && $host_arch == amd64 ]]; then
    command -v musl-gcc >/dev/null || { echo "image.sh: musl-gcc is missing (apt-get install musl-tools)" >&2; exit 1; }
    # musl keeps it small; zstd.h is taken from the system after musl's own headers.
    musl-gcc -Os -static -Wall -Wextra -Werror -o "$partial" loader/swarm-loader.c -idirafter /usr/include "/usr/lib/$(triplet amd64)/libzstd.a" -lpthread
    strip "$partial"
  else
    command -v "$(triplet "$a")-gcc" >/dev/null || { echo "image.sh: $(triplet "$a")-gcc is missing (apt-get install gcc-$(triplet "$a") libc6-dev-$a-cross)" >&2; exit 1; }
    local sys
    sys=$(sysroot "$a" libzstd-dev)
    "$(triplet "$a")-gcc" -Os -static -Wall -Wextra -Werror -o "$partial" loader/swarm-loader.c -idirafter /usr/include "$sys/usr/lib/$(triplet "$a")/libzstd.a" -lpthread
    "$(triplet "$a")-strip" "$partial"
  fi
  mv "$partial" "$out"
  echo "$out"
}

# The binary $1 as the loader's payload: $SWARM_ZSTD_FRAMES zstd frames (unpacked in parallel),
# cached by the binary's hash since compressing takes a minute; prints the payload's path.
payload() {
  local bin=$1 a=$2 level=${SWARM_ZSTD_LEVEL:-19} frames=${SWARM_ZSTD_FRAMES:-4} sum out
  sum=$(sha256sum "$bin" | cut -c1-16)
  out=$cache/payload-$a-$sum-$level-$frames.zst
  if [[ ! -f $out ]]; then
    local parts
    parts=$(mktemp -d)
    split -n "$frames" -d -a 3 "$bin" "$parts/part"
    echo "image.sh: compressing $bin (zstd -$level --long=27, $frames frames)" >&2
    # One zstd per frame, as many at once as there are CPUs (--long needs a 128 MB window to unpack).
    printf '%s\n' "$parts"/part??? | xargs -P "$(nproc)" -I{} zstd -q "-$level" --long=27 -T1 --content-size {} -o {}.zst
    cat "$parts"/part???.zst >"$out.partial"
    rm -rf "$parts"
    rm -f "$cache/payload-$a-"*.zst
    mv "$out.partial" "$out"
  fi
  echo "$out"
}

# The small variant's /swarm for binary $1 (arch $2) at file $3: loader, payload, trailer.
small_executable() {
  local bin=$1 a=$2 out=$3 ldr pay size
  ldr=$(loader "$a")
  pay=$(payload "$bin" "$a")
  size=$(stat -c %s "$pay")
  cat "$ldr" "$pay" >"$out"
  # The trailer: payload size as 8 little-endian bytes, then the magic.
  printf '%b' "$(printf '%016x' "$size" | sed 's/../&\n/g' | tac | sed 's/^/\\x/' | tr -d '\n')" >>"$out"
  printf 'SWARMZST' >>"$out"
  chmod 755 "$out"
}

build_image() {
  local a=$1 t=$2 bin ctx
  bin=$(binary "$a")
  [[ -x $bin ]] || { echo "image.sh: $bin is not an executable" >&2; exit 1; }
  ctx=$(mktemp -d)
  # shellcheck disable=SC2064 # the context dir is fixed now
  trap "rm -rf '$ctx'" RETURN
  mkdir -p "$ctx/rootfs/etc/ssl/certs"
  if [[ $variant == small ]]; then small_executable "$bin" "$a" "$ctx/rootfs/swarm"; else cp "$bin" "$ctx/rootfs/swarm"; fi
  copy_libraries "$bin" "$ctx/rootfs" "$a"
  cp -L /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
  # A writable /tmp for TLS material and unix sockets users may mount.
  mkdir -p "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  cp Dockerfile.scratch "$ctx/Dockerfile"
  # The legacy builder works with any engine (20.10 included); DOCKER_BUILDKIT=0 says so up front.
  DOCKER_BUILDKIT=0 docker build -q --platform "linux/$a" -t "$t" "$ctx" >/dev/null 2> >(grep -v -e '^$' -e 'DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' -e 'environment-variable.' >&2)
  echo "built image $t ($variant, linux/$a)" >&2
}

# Median of the wall times (ms) of 20 runs of the command.
median_ms() {
  local times=() t0 t1
  for _ in $(seq 20); do
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", (a[10] + a[11]) / 2000}'
}

measure() {
  local size gz a
  size=$(docker image inspect -f '{{.Size}}' "$tag")
  a=$(docker image inspect -f '{{.Architecture}}' "$tag")
  gz=$(docker save "$tag" | gzip -9 | wc -c)
  awk -v t="$tag" -v a="$a" -v s="$size" -v g="$gz" 'BEGIN { printf "image %s (linux/%s): %.1f MB, %.1f MB as docker save | gzip -9\n", t, a, s / 1e6, g / 1e6 }'
  [[ $a == "$host_arch" ]] || return 0
  # The image's own /swarm, run here.
  local dir id
  dir=$(mktemp -d)
  # shellcheck disable=SC2064 # the dir is fixed now
  trap "rm -rf '$dir'" RETURN
  id=$(docker create "$tag")
  docker cp "$id:/swarm" "$dir/swarm" >/dev/null
  docker rm "$id" >/dev/null
  awk -v s="$(stat -c %s "$dir/swarm")" 'BEGIN { printf "/swarm: %.1f MB\n", s / 1e6 }'
  printf 'swarm --version: median %s ms of 20 runs\n' "$(median_ms "$dir/swarm" --version)"
  printf 'swarm --help: median %s ms of 20 runs\n' "$(median_ms "$dir/swarm" --help)"
  printf 'swarm list nodes://10.0.0.1:2375,10.0.0.2:2375: median %s ms of 20 runs\n' "$(median_ms "$dir/swarm" list nodes://10.0.0.1:2375,10.0.0.2:2375)"
  # The same from the image, container start included (5 runs).
  local times=() t0 t1
  for _ in $(seq 5); do
    t0=$(date +%s%N)
    docker run --rm "$tag" --version >/dev/null
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf 'docker run --rm %s --version: median %s ms of 5 runs (container start included)\n' "$tag" "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[3]/1000}')"
}

index() {
  local repo=${tag%:*} version=${tag##*:} a refs=()
  [[ $tag == */* ]] || { echo "image.sh: index needs REGISTRY/REPO[:TAG], got $tag" >&2; exit 2; }
  [[ $repo != "$tag" && $version != */* ]] || { repo=$tag; version=latest; }
  unset SWARM_BIN
  for a in amd64 arm64; do
    build_image "$a" "$repo:$version-$a"
    docker push -q "$repo:$version-$a" >/dev/null
    refs+=("$repo:$version-$a")
  done
  docker manifest rm "$repo:$version" >/dev/null 2>&1 || true
  docker manifest create --insecure "$repo:$version" "${refs[@]}" >/dev/null
  docker manifest annotate --variant v8 "$repo:$version" "$repo:$version-arm64"
  docker manifest push --insecure --purge "$repo:$version" >/dev/null
  echo "pushed image index $repo:$version (linux/amd64, linux/arm64/v8)" >&2
}

case $cmd in
  build) build_image "$arch" "$tag" ;;
  measure) measure ;;
  index) index ;;
  sysroot) realpath "$(sysroot "$arch" libc6)" ;;
  *) echo "usage: scripts/image.sh build|measure|index|sysroot [-t TAG] [--small|--plain] [--arch amd64|arm64]" >&2; exit 2 ;;
esac
