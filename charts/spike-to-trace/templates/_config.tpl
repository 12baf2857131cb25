{{/*
The ConfigMaps the components mount. All but prometheus-targets hold the repository's own files,
read through the links in files/ and never copied (test/k8s-chart.test.ts fails if a mounted file
differs from the repository's). The map below says which file each key holds.
*/}}
{{- define "spike-to-trace.repositoryFiles" -}}
otel-collector-config:
  config.yaml: otel-collector/config.yaml
  sampling.yaml: otel-collector/sampling.yaml
  agent.yaml: otel-collector/agent.yaml
  gateway.yaml: otel-collector/gateway.yaml
tempo-config:
  tempo.yaml: tempo/tempo.yaml
prometheus-config:
  prometheus.yml: prometheus/prometheus.yml
prometheus-rules:
  latency.yml: prometheus/rules/latency.yml
grafana-datasources:
  datasources.yaml: grafana/provisioning/datasources/datasources.yaml
grafana-dashboard-providers:
  dashboards.yaml: grafana/provisioning/dashboards/dashboards.yaml
grafana-dashboards:
{{- range $path, $_ := .Files.Glob "files/grafana/dashboards/*.json" }}
  {{ base $path }}: {{ trimPrefix "files/" $path }}
{{- end }}
k6-scripts:
  main.js: loadgen/main.js
k6-scripts-lib:
{{- range $path, $_ := .Files.Glob "files/loadgen/lib/*.js" }}
  {{ base $path }}: {{ trimPrefix "files/" $path }}
{{- end }}
{{- end }}

{{/*
Prometheus's scrape targets (file_sd, as prometheus/prometheus.yml reads them) with the cluster's
names: Prometheus expands no variables, so compose commits its own targets and the native stack
writes them; here the chart does. Each gateway is scraped through its StatefulSet pod's name.
*/}}
{{- define "spike-to-trace.prometheusTargets" -}}
{{- $agent := index .Values.components "otel-collector" -}}
{{- $gateway := index .Values.components "otel-gateway" -}}
{{- $tempo := .Values.components.tempo -}}
{{- $gateways := list -}}
{{- range $i := until (int $gateway.replicas) -}}
{{- $gateways = append $gateways (printf "otel-gateway-%d.otel-gateway:%v" $i $gateway.ports.metrics) -}}
{{- end -}}
otel-collector.yml: |
  # The Collector's own metrics: the agent, and each gateway (made by the chart).
  - targets: [{{ printf "otel-collector:%v" $agent.ports.metrics | quote }}]
    labels: {tier: agent}
  - targets: [{{ range $i, $t := $gateways }}{{ if $i }}, {{ end }}{{ $t | quote }}{{ end }}]
    labels: {tier: gateway}
tempo.yml: |
  # Tempo's own metrics, on its HTTP port (made by the chart).
  - targets: [{{ printf "tempo:%v" $tempo.ports.http | quote }}]
{{- end }}

{{/* A ConfigMap's data as YAML: (dict "root" $ "name" "tempo-config") */}}
{{- define "spike-to-trace.configMapData" -}}
{{- if eq .name "prometheus-targets" -}}
{{ include "spike-to-trace.prometheusTargets" .root }}
{{- else -}}
{{- $files := required (printf "no ConfigMap %s in spike-to-trace.repositoryFiles" .name) (index (include "spike-to-trace.repositoryFiles" .root | fromYaml) .name) -}}
{{- $data := dict -}}
{{- range $key, $path := $files -}}
{{- $text := $.root.Files.Get (printf "files/%s" $path) -}}
{{- if not $text -}}
{{- fail (printf "files/%s is missing or empty: files/ links to the repository's folders (on Windows, clone with git config core.symlinks true)" $path) -}}
{{- end -}}
{{- $_ := set $data $key $text -}}
{{- end -}}
{{ toYaml $data }}
{{- end -}}
{{- end }}

{{/* Every ConfigMap name, repository files first. */}}
{{- define "spike-to-trace.configMapNames" -}}
{{- keys (include "spike-to-trace.repositoryFiles" . | fromYaml) | sortAlpha | join " " }} prometheus-targets
{{- end }}
