#!/bin/sh
# Builds the native tools from source with Go, at the versions pinned in .env:
#
#   otelcol        the Collector, from otel-collector/builder-config.yaml (OpenTelemetry Collector Builder)
#   prometheus     Prometheus (with its web UI, as released) and promtool
#   k6             the load generator
#   otlp-decode    native/otlp-decode, the independent OTLP decoder of the exemplar tests
#   compose-check  native/compose-check, docker-compose.yml loaded by Docker Compose's own parser
#   tempo          from Tempo's own source tree at the pinned tag (the Go module proxy refuses Tempo)
#
#   npm run tools          (also run at the start of npm test)
#   sh native/build-tools.sh tempo      Tempo only
#
# Binaries land in $TOOLS_DIR/bin (default ~/.cache/spike-to-trace/bin, see native/versions.sh),
# as links to a directory per version, so a version bump in .env rebuilds and an unchanged
# version is reused ("cached"). Go's own module and build caches stay at their defaults and make
# rebuilds after a bump much faster. The first run takes several minutes (Prometheus and k6 are
# large); the Collector is built first because everything else waits for it.
#
# Environment:
#   TOOLS_DIR         tool cache (default ~/.cache/spike-to-trace)
#   TEMPO_BIN         a tempo binary to use instead of building one (must report TEMPO_VERSION)
#   TEMPO_SRC         Tempo's source at tag v$TEMPO_VERSION: a directory, or a .tar.xz of one made
#                     with `git archive --prefix=tempo-$TEMPO_VERSION/ v$TEMPO_VERSION` (default:
#                     ../shared/tools/tempo-$TEMPO_VERSION-src.tar.xz beside the project, if there)
#   TEMPO_SRC_SHA256  when set, the sha256 a TEMPO_SRC archive must have
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/native/versions.sh"

bin_dir=$TOOLS_DIR/bin
log_dir=$TOOLS_DIR/logs
work_dir=$TOOLS_DIR/build
mkdir -p "$bin_dir" "$log_dir" "$work_dir"

say() { printf '%s\n' "$*"; }
fail() { printf 'build-tools: %s\n' "$*" >&2; exit 1; }

now() { date +%s; }
duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# A short, portable content hash for cache keys (cksum is POSIX).
hash_of() { cat "$@" | cksum | cut -d' ' -f1; }

go_checked=
need_go() {
  [ -n "$go_checked" ] && return 0
  if ! command -v go >/dev/null 2>&1; then
    fail "the Go toolchain is not installed (no 'go' on PATH). The native tools are built from source: install Go 1.26 or newer (https://go.dev/dl/) and run 'npm run tools' again."
  fi
  if ! go version >/dev/null 2>&1; then
    fail "'go version' fails; check the Go installation ($(command -v go))."
  fi
  say "Go: $(go version | cut -d' ' -f3-) (module cache $(go env GOMODCACHE))"
  # -trimpath: no paths of the build machine inside the binaries. $(go env GOFLAGS) keeps the
  # flags set with `go env -w`, which the GOFLAGS variable would otherwise replace.
  GOFLAGS=$(go env GOFLAGS)
  case " $GOFLAGS " in *" -trimpath "*) ;; *) GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath" ;; esac
  export GOFLAGS
  # Static binaries, as every one of these tools is released: the stand-in images of the compose
  # test (native/standins/) put the same binaries into scratch and busybox images.
  CGO_ENABLED=0
  export CGO_ENABLED
  go_checked=1
}

# link NAME TARGET: point $bin_dir/NAME at TARGET (atomically replaces an older link or file).
# Built tools are linked relative to $bin_dir, so the cache keeps working when moved or restored
# elsewhere (CI caches).
link() {
  ln -sf "$2" "$bin_dir/.$1.new"
  mv -f "$bin_dir/.$1.new" "$bin_dir/$1"
}

# ---------------------------------------------------------------------------------------------
# Background jobs: each long build runs in the background with its own log, and the script polls
# it, printing a line now and then, so a slow first run shows that it is alive.
jobs_running=
start_job() { # name label function [note]
  name=$1 label=$2 fn=$3 note=${4-" (first run takes several minutes)"}
  log=$log_dir/$name.log
  say "$label: building$note, log: $log"
  # The inner subshell runs the build with set -e; the outer one records its exit status and end
  # time, which finish_job reads (jobs end in any order, and are waited for one after the other).
  rm -f "$log_dir/$name.status"
  (set +e; (set -e; "$fn") >"$log" 2>&1; echo "$? $(now)" >"$log_dir/$name.status") &
  eval "job_pid_$name=\$!; job_start_$name=\$(now); job_label_$name=\$label"
  jobs_running="$jobs_running $name"
}

failed=
finish_job() { # name [optional]: wait for the job, print its outcome; return 1 when it failed
  name=$1 optional=${2:-}
  eval "pid=\$job_pid_$name; start=\$job_start_$name; label=\$job_label_$name"
  next=$(($(now) + 60))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if [ "$(now)" -ge "$next" ]; then
      say "$label: still building ($(duration $(($(now) - start))))"
      next=$(($(now) + 60))
    fi
  done
  wait "$pid" || true
  read -r rc end 2>/dev/null <"$log_dir/$name.status" || { rc=1 end=$(now); }
  rm -f "$log_dir/$name.status"
  if [ "$rc" -eq 0 ]; then
    say "$label: built in $(duration $((end - start)))"
  else
    rc=1
    if [ -z "$optional" ]; then
      say "$label: FAILED after $(duration $((end - start))); last lines of $log_dir/$name.log:" >&2
      tail -n 20 "$log_dir/$name.log" | sed 's/^/    /' >&2
      failed="$failed $name"
    fi
  fi
  jobs_running=$(printf '%s' "$jobs_running" | sed "s/ $name\$//; s/ $name / /")
  return $rc
}

stop_jobs() {
  for name in $jobs_running; do
    eval "kill \$job_pid_$name" 2>/dev/null || true
  done
}
trap 'stop_jobs; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# a. The Collector, built by the OpenTelemetry Collector Builder of the same release from our
# manifest, with the versions and the output path substituted (the committed manifest holds the
# same version as .env; a test keeps them equal).
gen_manifest() { # output_path
  sed -e "s#^\( *- gomod: [^ ]*\) v[0-9][0-9.]*\$#\1 v$OTELCOL_VERSION#" \
      -e "s#^\( *version:\).*#\1 $OTELCOL_VERSION#" \
      -e "s#^\( *output_path:\).*#\1 $1#" \
      "$root/otel-collector/builder-config.yaml"
}
# Keyed by the version and the component list, so adding a component also rebuilds.
otelcol_key=$OTELCOL_VERSION-$(gen_manifest _ | grep -v '^ *#' | cksum | cut -d' ' -f1)
otelcol_dir=$TOOLS_DIR/otelcol/$otelcol_key

build_otelcol() {
  builder_dir=$TOOLS_DIR/builder/$OTELCOL_VERSION
  if [ ! -x "$builder_dir/builder" ]; then
    echo "installing go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
    GOBIN=$builder_dir go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
  fi
  rm -rf "$otelcol_dir.partial"
  mkdir -p "$otelcol_dir.partial"
  gen_manifest "$otelcol_dir.partial/src" >"$otelcol_dir.partial/builder-config.yaml"
  "$builder_dir/builder" --config "$otelcol_dir.partial/builder-config.yaml"
  mv "$otelcol_dir.partial/src/otelcol" "$otelcol_dir.partial/otelcol"
  rm -rf "$otelcol_dir" && mv "$otelcol_dir.partial" "$otelcol_dir"
}

# b. Prometheus and promtool, with the web UI embedded as in a release. Its go.mod has replace and
# exclude directives, which `go install pkg@version` refuses, so the module is downloaded and built in
# a writable copy. Prometheus 3.x is published as the Go module version
# v0.<major><minor 2 digits>.<patch> (3.14.0 is v0.314.0). The module holds the UI's sources
# (web/ui, a pnpm workspace); they are built with Node 24 and pnpm from the npm registry, compressed
# by the module's own script and embedded with the builtinassets tag, as `make build` does.
PROMETHEUS_UI_PNPM_VERSION=10.34.9
prom_module_version() {
  IFS=. read -r major minor patch <<EOF
$PROMETHEUS_VERSION
EOF
  printf 'v0.%d%02d.%d' "$major" "$minor" "$patch"
}
# The folder names the build recipe as well as the version, so a change of recipe rebuilds.
prom_dir=$TOOLS_DIR/prometheus/$PROMETHEUS_VERSION-static-ui
prom_src=$work_dir/prometheus-$PROMETHEUS_VERSION

# module_dir MODULE@VERSION: download a module into Go's module cache and print its directory.
module_dir() {
  json=$(go mod download -json "$1") || { printf '%s\n' "$json" >&2; return 1; }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || { echo "go mod download $1 returned no directory" >&2; return 1; }
  printf '%s\n' "$dir"
}

# fetch_source MODULE@VERSION DIR PACKAGE...: a writable copy of the module in DIR, with the
# modules that PACKAGEs need downloaded (`go list -deps`: only what the build uses, where
# `go mod download` would fetch every module of go.mod, tests' included). GOWORK=off: a
# repository's go.work names modules that the published module lacks.
# Explicit error checks: this also runs in `||` lists, where set -e does not apply.
fetch_source() {
  mod=$1 dest=$2
  shift 2
  echo "downloading $mod"
  dir=$(module_dir "$mod") || return 1
  rm -rf "$dest" &&
    cp -R "$dir" "$dest" &&
    chmod -R u+w "$dest" || return 1
  (cd "$dest" && GOWORK=off go list -deps "$@" >/dev/null) || return 1
}

fetch_prometheus() {
  fetch_source "github.com/prometheus/prometheus@$(prom_module_version)" "$prom_src" ./cmd/prometheus ./cmd/promtool
}

build_prometheus_ui() {
  echo "building the web UI with pnpm $PROMETHEUS_UI_PNPM_VERSION"
  sh "$root/native/with-node.sh" sh -c "cd '$prom_src/web/ui' &&
    npx --yes pnpm@$PROMETHEUS_UI_PNPM_VERSION install --frozen-lockfile &&
    CI= npx --yes pnpm@$PROMETHEUS_UI_PNPM_VERSION run build:mantine-ui"
  (cd "$prom_src" && bash scripts/compress_assets.sh)
}

build_prometheus() {
  [ -f "$prom_src/go.mod" ] || fetch_prometheus
  build_prometheus_ui
  rm -rf "$prom_dir.partial"
  mkdir -p "$prom_dir.partial"
  # The version variables that the release build (.promu.yml) sets, for `prometheus --version`
  # and the build_info metric.
  v=github.com/prometheus/common/version
  (cd "$prom_src" && GOWORK=off go build -tags builtinassets \
    -ldflags "-X $v.Version=$PROMETHEUS_VERSION -X $v.Branch=v$PROMETHEUS_VERSION -X $v.BuildUser=build-tools.sh" \
    -o "$prom_dir.partial/" ./cmd/prometheus ./cmd/promtool)
  "$prom_dir.partial/prometheus" --version
  rm -rf "$prom_dir" && mv "$prom_dir.partial" "$prom_dir"
  rm -rf "$prom_src"
}

# c. k6. `go install go.k6.io/k6/v2@version` would work in principle (no replace directives), but
# it also asks for the module's latest version to report deprecations, which fails where only the
# module proxy is reachable; so k6 is built like Prometheus, from a copy of the released module.
k6_dir=$TOOLS_DIR/k6/$K6_VERSION-static
k6_src=$work_dir/k6-$K6_VERSION
fetch_k6() { fetch_source "go.k6.io/k6/v2@v$K6_VERSION" "$k6_src" .; }
build_k6() {
  [ -f "$k6_src/go.mod" ] || fetch_k6
  rm -rf "$k6_dir.partial"
  mkdir -p "$k6_dir.partial"
  (cd "$k6_src" && GOWORK=off go build -o "$k6_dir.partial/k6" .)
  "$k6_dir.partial/k6" version
  rm -rf "$k6_dir" && mv "$k6_dir.partial" "$k6_dir"
  rm -rf "$k6_src"
}

# d. Tempo. The Go module proxy refuses Tempo's modules, and its release tags are no valid module
# versions anyway; but every release tag vendors its dependencies, so the source tree of the tag
# builds offline, exactly as Tempo's Makefile builds it (CGO off, version variables set). Where the
# tree comes from is decided at the end of this script (TEMPO_BIN > TEMPO_SRC > git clone).
tempo_dir=$TOOLS_DIR/tempo/$TEMPO_VERSION
tempo_src=$work_dir/tempo-$TEMPO_VERSION
tempo_default_archive=$root/../shared/tools/tempo-$TEMPO_VERSION-src.tar.xz
tempo_repo=https://github.com/grafana/tempo

# tempo_reports_version BINARY: does `BINARY -version` say it is the pinned version?
tempo_reports_version() {
  "$1" -version 2>/dev/null | head -n 1 | grep -q "version $TEMPO_VERSION "
}

# fetch_tempo: the source tree of the tag. A directory is built where it is (the build writes
# nothing into it); an archive is extracted, and the tag cloned, into $tempo_src. Prints the
# tree's folder and commit last, for the build. Explicit error checks: it runs in an `if`, where
# set -e does not apply.
fetch_tempo() {
  if [ -n "$tempo_source" ] && [ -d "$tempo_source" ]; then
    tree=$(cd "$tempo_source" && pwd)
    revision=$(git -C "$tree" rev-parse HEAD 2>/dev/null || echo unknown)
  else
    rm -rf "$tempo_src" && mkdir -p "$tempo_src" || return 1
    tree=$tempo_src
    if [ -n "$tempo_source" ]; then
      if [ -n "${TEMPO_SRC_SHA256:-}" ]; then
        echo "checking the sha256 of $tempo_source"
        echo "$TEMPO_SRC_SHA256  $tempo_source" | sha256sum -c - || { echo "$tempo_source is not the archive TEMPO_SRC_SHA256 names"; return 1; }
      fi
      # git archive --prefix=tempo-X/ puts everything under that folder: its name is the version.
      first=$(xz -dc "$tempo_source" | tar -t 2>/dev/null | head -n 1) || true
      [ "${first%%/*}" = "tempo-$TEMPO_VERSION" ] || { echo "$tempo_source holds ${first%%/*}/, not tempo-$TEMPO_VERSION/"; return 1; }
      echo "extracting $tempo_source"
      xz -dc "$tempo_source" | tar -x -C "$tempo_src" --strip-components=1 || return 1
      # git archive records the commit in the tar's header.
      revision=$(xz -dc "$tempo_source" | git get-tar-commit-id 2>/dev/null || echo unknown)
    else
      echo "cloning $tempo_repo at v$TEMPO_VERSION"
      GIT_TERMINAL_PROMPT=0 git clone --quiet --depth 1 --branch "v$TEMPO_VERSION" "$tempo_repo" "$tempo_src" || return 1
      revision=$(git -C "$tempo_src" rev-parse HEAD) || return 1
    fi
  fi
  [ -f "$tree/cmd/tempo/main.go" ] && [ -d "$tree/vendor" ] || { echo "no cmd/tempo or vendor/ in $tree"; return 1; }
  echo "tree: $tree"
  echo "revision: $revision"
}

build_tempo() {
  rm -rf "$tempo_dir.partial"
  mkdir -p "$tempo_dir.partial"
  (cd "$tempo_tree" && CGO_ENABLED=0 GOWORK=off go build -mod=vendor \
    -ldflags "-X main.Version=$TEMPO_VERSION -X main.Revision=$(printf '%.7s' "$tempo_revision") -X main.Branch=HEAD" \
    -o "$tempo_dir.partial/tempo" ./cmd/tempo)
  "$tempo_dir.partial/tempo" -version
  tempo_reports_version "$tempo_dir.partial/tempo" || { echo "the built tempo does not report version $TEMPO_VERSION"; return 1; }
  rm -rf "$tempo_dir" && mv "$tempo_dir.partial" "$tempo_dir"
  rm -rf "$tempo_src"
}

# e, f. The project's own small Go tools, native/otlp-decode and native/compose-check, each keyed
# by the hash of its sources.
local_tool_dir() {
  echo "$TOOLS_DIR/$1/$(hash_of "$root/native/$1/go.mod" "$root/native/$1/go.sum" "$root/native/$1/main.go")"
}
build_local_tool() { # <name> <dir>
  rm -rf "$2.partial"
  mkdir -p "$2.partial"
  # -buildvcs=false: the surrounding repository's state is no part of these tools.
  (cd "$root/native/$1" && go build -buildvcs=false -o "$2.partial/$1" .)
  rm -rf "$2" && mv "$2.partial" "$2"
}
decode_dir=$(local_tool_dir otlp-decode)
build_otlp_decode() { build_local_tool otlp-decode "$decode_dir"; }
compose_dir=$(local_tool_dir compose-check)
build_compose_check() { build_local_tool compose-check "$compose_dir"; }

# ---------------------------------------------------------------------------------------------
case "${1:-all}" in all | tempo) ;; *) fail "usage: build-tools.sh [tempo]" ;; esac
if [ "${1:-all}" = all ]; then

# The Collector first: it is what the rest of the stack and other work waits for.
if [ -x "$otelcol_dir/otelcol" ]; then
  say "otelcol $OTELCOL_VERSION: cached"
  otelcol_job=
else
  need_go
  start_job otelcol "otelcol $OTELCOL_VERSION" build_otelcol
  otelcol_job=1
fi

# While the Collector compiles (CPU bound), download the sources and modules of Prometheus and k6
# (network bound). A failed download is retried by the build job, which reports it.
prefetch() { # name label dir function
  need_go
  say "$2: downloading sources and modules, log: $log_dir/$1-fetch.log"
  "$4" >"$log_dir/$1-fetch.log" 2>&1 || rm -rf "$3"
}
prom_cached= k6_cached= decode_cached= compose_cached=
[ -x "$prom_dir/prometheus" ] && [ -x "$prom_dir/promtool" ] && prom_cached=1
[ -x "$k6_dir/k6" ] && k6_cached=1
[ -x "$decode_dir/otlp-decode" ] && decode_cached=1
[ -x "$compose_dir/compose-check" ] && compose_cached=1
[ -n "$prom_cached" ] || prefetch prometheus "prometheus $PROMETHEUS_VERSION" "$prom_src" fetch_prometheus
[ -n "$k6_cached" ] || prefetch k6 "k6 $K6_VERSION" "$k6_src" fetch_k6

if [ -n "$otelcol_job" ]; then
  if finish_job otelcol; then link otelcol "../otelcol/$otelcol_key/otelcol"; fi
else
  link otelcol "../otelcol/$otelcol_key/otelcol"
fi

# Then the others, side by side: Go uses every core for each, and the links overlap compiles.
if [ -n "$prom_cached" ]; then say "prometheus $PROMETHEUS_VERSION: cached"; else
  start_job prometheus "prometheus $PROMETHEUS_VERSION" build_prometheus
fi
if [ -n "$k6_cached" ]; then say "k6 $K6_VERSION: cached"; else
  start_job k6 "k6 $K6_VERSION" build_k6
fi
if [ -n "$decode_cached" ]; then say "otlp-decode: cached"; else
  need_go
  start_job otlp_decode "otlp-decode" build_otlp_decode ""
fi
if [ -n "$compose_cached" ]; then say "compose-check: cached"; else
  need_go
  start_job compose_check "compose-check" build_compose_check ""
fi

if [ -z "$decode_cached" ] && finish_job otlp_decode; then decode_cached=1; fi
[ -z "$decode_cached" ] || link otlp-decode "../otlp-decode/${decode_dir##*/}/otlp-decode"

if [ -z "$compose_cached" ] && finish_job compose_check; then compose_cached=1; fi
[ -z "$compose_cached" ] || link compose-check "../compose-check/${compose_dir##*/}/compose-check"

if [ -z "$prom_cached" ] && finish_job prometheus; then prom_cached=1; fi
if [ -n "$prom_cached" ]; then
  link prometheus "../prometheus/${prom_dir##*/}/prometheus"
  link promtool "../prometheus/${prom_dir##*/}/promtool"
fi

if [ -z "$k6_cached" ] && finish_job k6; then k6_cached=1; fi
[ -z "$k6_cached" ] || link k6 "../k6/${k6_dir##*/}/k6"

fi # all

# Tempo: TEMPO_BIN, else the cached build, else a build from TEMPO_SRC (or the archive beside the
# project), else from a clone of the tag. Where a binary or source was given, any failure fails
# this script; with neither, and no network, the stack runs without Tempo and one line says why.
# bin/tempo.unavailable holds the reason when Tempo could not be had without anyone's fault; the
# tests that need Tempo skip with it. Without that note a missing Tempo fails them.
rm -f "$bin_dir/tempo" "$bin_dir/tempo.unavailable" # never a link to another version or an earlier TEMPO_BIN
if [ -n "${TEMPO_BIN:-}" ]; then
  [ -x "$TEMPO_BIN" ] && [ ! -d "$TEMPO_BIN" ] || fail "TEMPO_BIN=$TEMPO_BIN is not an executable file"
  tempo_reports_version "$TEMPO_BIN" ||
    fail "TEMPO_BIN=$TEMPO_BIN reports '$("$TEMPO_BIN" -version 2>&1 | head -n 1)', not version $TEMPO_VERSION (the version pinned in .env)"
  say "tempo $TEMPO_VERSION: using TEMPO_BIN=$TEMPO_BIN"
  link tempo "$(cd "$(dirname "$TEMPO_BIN")" && pwd)/$(basename "$TEMPO_BIN")"
elif [ -x "$tempo_dir/tempo" ] && tempo_reports_version "$tempo_dir/tempo"; then
  say "tempo $TEMPO_VERSION: cached"
  link tempo "../tempo/$TEMPO_VERSION/tempo"
else
  tempo_source=${TEMPO_SRC:-}
  [ -n "$tempo_source" ] || [ ! -f "$tempo_default_archive" ] || tempo_source=$tempo_default_archive
  [ -z "$tempo_source" ] || [ -e "$tempo_source" ] || fail "TEMPO_SRC=$tempo_source does not exist"
  need_go
  how="set TEMPO_SRC to Tempo's source at v$TEMPO_VERSION (a directory or .tar.xz) or TEMPO_BIN to a tempo $TEMPO_VERSION binary, and run 'npm run tools' again"
  if fetch_tempo >"$log_dir/tempo-fetch.log" 2>&1; then
    tempo_tree=$(sed -n 's/^tree: //p' "$log_dir/tempo-fetch.log")
    tempo_revision=$(sed -n 's/^revision: //p' "$log_dir/tempo-fetch.log")
    start_job tempo "tempo $TEMPO_VERSION" build_tempo " from ${tempo_source:-$tempo_repo} (first run takes about 5 minutes)"
    if finish_job tempo; then link tempo "../tempo/$TEMPO_VERSION/tempo"; fi
  elif [ -n "$tempo_source" ]; then
    say "tempo $TEMPO_VERSION: FAILED to read $tempo_source; last lines of $log_dir/tempo-fetch.log:" >&2
    tail -n 5 "$log_dir/tempo-fetch.log" | sed 's/^/    /' >&2
    failed="$failed tempo"
  else
    why="tempo $TEMPO_VERSION is not available: no TEMPO_SRC or TEMPO_BIN, and no clone of $tempo_repo ($(tail -n 1 "$log_dir/tempo-fetch.log")); $how"
    say "$why"
    printf '%s\n' "$why" >"$bin_dir/tempo.unavailable"
  fi
fi

if [ -n "$failed" ]; then
  fail "failed to build:$failed (logs in $log_dir)"
fi
say "tools ready in $bin_dir"
