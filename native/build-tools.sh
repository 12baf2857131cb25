#!/bin/sh
# Builds the native tools from source with Go, at the versions pinned in .env:
#
#   otelcol        the Collector, from otel-collector/builder-config.yaml (OpenTelemetry Collector Builder)
#   prometheus     Prometheus (with its web UI, as released) and promtool
#   k6             the load generator
#   otlp-decode    native/otlp-decode, the independent OTLP decoder of the exemplar tests
#   compose-check  native/compose-check, docker-compose.yml loaded by Docker Compose's own parser
#   tempo          from Tempo's own source tree at the pinned tag (the Go module proxy refuses Tempo)
#   kubernetes     etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, in one
#                  build of the wrapper module native/k8s; with helm, kwok and k8s-validate (the
#                  offline schema check) the toolchain of the Helm chart's tests
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
# How each tool is fetched and built.
. "$root/native/tool-recipes.sh"

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
k8s_cached=1 validate_cached= helm_cached= kwok_cached=
for b in $k8s_binaries; do [ -x "$k8s_dir/$b" ] || k8s_cached=; done
[ -x "$validate_dir/k8s-validate" ] && [ -f "$validate_dir/swagger.json" ] && validate_cached=1
[ -x "$helm_dir/helm" ] && helm_cached=1
[ -x "$kwok_dir/kwok" ] && [ -f "$kwok_dir/stages.yaml" ] && kwok_cached=1
k8s_label="kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl) and etcd $ETCD_VERSION"
[ -n "$k8s_cached" ] || prefetch kubernetes "$k8s_label" "$k8s_dir.partial" fetch_kubernetes
[ -n "$helm_cached" ] || prefetch helm "helm $HELM_VERSION" "$helm_src" fetch_helm
[ -n "$kwok_cached" ] || prefetch kwok "kwok $KWOK_VERSION" "$kwok_src" fetch_kwok

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
if [ -n "$k8s_cached" ]; then say "$k8s_label: cached"; else
  start_job kubernetes "$k8s_label" build_kubernetes
fi
if [ -n "$helm_cached" ]; then say "helm $HELM_VERSION: cached"; else
  start_job helm "helm $HELM_VERSION" build_helm
fi
if [ -n "$kwok_cached" ]; then say "kwok $KWOK_VERSION: cached"; else
  start_job kwok "kwok $KWOK_VERSION" build_kwok
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

if [ -z "$helm_cached" ] && finish_job helm; then helm_cached=1; fi
[ -z "$helm_cached" ] || link helm "../helm/$HELM_VERSION/helm"

if [ -z "$kwok_cached" ] && finish_job kwok; then kwok_cached=1; fi
[ -z "$kwok_cached" ] || link kwok "../kwok/$KWOK_VERSION/kwok"

if [ -z "$k8s_cached" ] && finish_job kubernetes; then k8s_cached=1; fi
if [ -n "$k8s_cached" ]; then
  for b in $k8s_binaries; do link "$b" "../kubernetes/${k8s_dir##*/}/$b"; done
fi

# The schema check last: it compiles in seconds from the packages the kubernetes build left in the
# Go cache.
if [ -n "$validate_cached" ]; then say "k8s-validate: cached"; else
  need_go
  start_job k8s_validate "k8s-validate" build_k8s_validate ""
  if finish_job k8s_validate; then validate_cached=1; fi
fi
[ -z "$validate_cached" ] || link k8s-validate "../k8s-validate/${validate_dir##*/}/k8s-validate"

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
