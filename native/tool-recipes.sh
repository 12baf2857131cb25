# One recipe per native tool: where its source comes from and how it is built, at the versions
# pinned in .env. Sourced by native/build-tools.sh, which decides what to build, runs the recipes as
# background jobs and links the results; the recipes use its say, hash_of and $TOOLS_DIR layout.

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

# g. The Kubernetes toolchain of the Helm chart's tests (test/k8s-*.test.ts, docs/KUBERNETES.md).
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and etcd come from the wrapper
# module native/k8s (its go.mod says why one is needed), in one `go build`: the five share almost
# every package, and built together they cost 40 % of the CPU of five builds. The version variables
# are those of a release build (without them the API server reports v0.0.0-master), with the
# release's commit time as build date so that a rebuild with a warm Go cache is a no-op; the
# grpcnotrace tag as upstream's release builds set it. Keyed by the module's go.mod and go.sum.
k8s_mod=$root/native/k8s
k8s_dir=$TOOLS_DIR/kubernetes/$KUBERNETES_VERSION-$(hash_of "$k8s_mod/go.mod" "$k8s_mod/go.sum")
k8s_binaries='etcd kube-apiserver kube-controller-manager kube-scheduler kubectl'

# k8s_module_matches_env: does native/k8s/go.mod name the versions of .env?
k8s_module_matches_env() {
  grep -q "^[[:space:]]*k8s.io/kubernetes v$KUBERNETES_VERSION\( \|\$\)" "$k8s_mod/go.mod" &&
    grep -q "^[[:space:]]*go.etcd.io/etcd/server/v3 v$ETCD_VERSION\( \|\$\)" "$k8s_mod/go.mod"
}

fetch_kubernetes() { (cd "$k8s_mod" && go list -deps tool ./k8s-validate >/dev/null); }

build_kubernetes() {
  k8s_module_matches_env || { echo "native/k8s/go.mod does not name kubernetes $KUBERNETES_VERSION and etcd $ETCD_VERSION of .env: run sh native/k8s/gen-go-mod.sh"; return 1; }
  build_date=$(cd "$k8s_mod" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
  stamp=
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp="$stamp -X $pkg.gitVersion=v$KUBERNETES_VERSION -X $pkg.gitMajor=${KUBERNETES_VERSION%%.*}"
    stamp="$stamp -X $pkg.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  rm -rf "$k8s_dir.partial"
  mkdir -p "$k8s_dir.partial"
  (cd "$k8s_mod" && go build -buildvcs=false -tags grpcnotrace -ldflags "-s -w$stamp" -o "$k8s_dir.partial/" tool)
  # etcd's main package is go.etcd.io/etcd/server/v3, which go build names "server".
  mv "$k8s_dir.partial/server" "$k8s_dir.partial/etcd"
  "$k8s_dir.partial/kube-apiserver" --version
  "$k8s_dir.partial/etcd" --version | head -n 1
  rm -rf "$k8s_dir" && mv "$k8s_dir.partial" "$k8s_dir"
}

# h. k8s-validate (native/k8s/k8s-validate), the offline schema check, built in the same module (its
# packages come from the Go cache the build above filled), with the OpenAPI spec of the
# k8s.io/kubernetes module next to it, where it looks by default.
validate_dir=$TOOLS_DIR/k8s-validate/$(hash_of "$k8s_mod/go.mod" "$k8s_mod/go.sum" "$k8s_mod/k8s-validate/main.go")
build_k8s_validate() {
  rm -rf "$validate_dir.partial"
  mkdir -p "$validate_dir.partial"
  (cd "$k8s_mod" && go build -buildvcs=false -o "$validate_dir.partial/k8s-validate" ./k8s-validate)
  spec_dir=$(module_dir "k8s.io/kubernetes@v$KUBERNETES_VERSION")/api/openapi-spec
  cp "$spec_dir/swagger.json" "$validate_dir.partial/swagger.json"
  chmod u+w "$validate_dir.partial/swagger.json"
  rm -rf "$validate_dir" && mv "$validate_dir.partial" "$validate_dir"
}

# i. Helm and kwok, each from a copy of its released module like k6 (neither has replace directives,
# but helm needs newer Kubernetes libraries than the control plane, and kwok newer gRPC and
# OpenTelemetry ones: the wrapper module would force either onto versions it was not released with).
# kwok has no stages built in: its fast node, pod and volume stages and its StorageClass, from the
# same module, go next to the binary for the test's cluster.
helm_dir=$TOOLS_DIR/helm/$HELM_VERSION
helm_src=$work_dir/helm-$HELM_VERSION
fetch_helm() { fetch_source "helm.sh/helm/v4@v$HELM_VERSION" "$helm_src" ./cmd/helm; }
build_helm() {
  [ -f "$helm_src/go.mod" ] || fetch_helm
  rm -rf "$helm_dir.partial"
  mkdir -p "$helm_dir.partial"
  v=helm.sh/helm/v4/internal/version
  (cd "$helm_src" && GOWORK=off go build -ldflags "-s -w -X $v.version=v$HELM_VERSION -X $v.gitTreeState=clean" -o "$helm_dir.partial/helm" ./cmd/helm)
  "$helm_dir.partial/helm" version
  rm -rf "$helm_dir" && mv "$helm_dir.partial" "$helm_dir"
  rm -rf "$helm_src"
}

kwok_dir=$TOOLS_DIR/kwok/$KWOK_VERSION
kwok_src=$work_dir/kwok-$KWOK_VERSION
fetch_kwok() { fetch_source "sigs.k8s.io/kwok@v$KWOK_VERSION" "$kwok_src" ./cmd/kwok; }
build_kwok() {
  [ -f "$kwok_src/go.mod" ] || fetch_kwok
  rm -rf "$kwok_dir.partial"
  mkdir -p "$kwok_dir.partial"
  (cd "$kwok_src" && GOWORK=off go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$kwok_dir.partial/kwok" ./cmd/kwok)
  "$kwok_dir.partial/kwok" --version
  stages=$kwok_src/kustomize/stage
  for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete \
    volume/fast/pvc-provision volume/fast/pv-bind volume/fast/pvc-delete volume/fast/pv-delete; do
    echo "# sigs.k8s.io/kwok@v$KWOK_VERSION kustomize/stage/$stage.yaml"
    cat "$stages/$stage.yaml"
    echo '---'
  done >"$kwok_dir.partial/stages.yaml"
  cp "$stages/volume/fast/storage-class.yaml" "$kwok_dir.partial/storage-class.yaml"
  rm -rf "$kwok_dir" && mv "$kwok_dir.partial" "$kwok_dir"
  rm -rf "$kwok_src"
}
