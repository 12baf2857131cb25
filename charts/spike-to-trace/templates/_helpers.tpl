{{/*
Names, labels and images shared by every template. Object names are the component names, without
the release name: the repository's config files, mounted unchanged, name the hosts prometheus, tempo,
otel-collector and so on, as compose does. So one release per namespace.
*/}}

{{- define "spike-to-trace.chart" -}}
{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Selector labels of a component: (dict "root" $ "name" "order") */}}
{{- define "spike-to-trace.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* Every label of a component's objects: (dict "root" $ "name" "order") */}}
{{- define "spike-to-trace.labels" -}}
{{ include "spike-to-trace.selectorLabels" . }}
app.kubernetes.io/part-of: spike-to-trace
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "spike-to-trace.chart" .root }}
{{- end }}

{{/*
A component's image: "service" is the services' own image (<servicesImage.repository>/<name>), any
other word a key of .Values.images. (dict "root" $ "name" "order" "c" <component values>)
*/}}
{{- define "spike-to-trace.image" -}}
{{- if eq .c.image "service" -}}
{{- $image := .root.Values.servicesImage -}}
{{ $image.repository }}/{{ .name }}:{{ $image.tag | default .root.Chart.AppVersion }}
{{- else -}}
{{- $image := required (printf "images.%s is not set (components.%s.image)" .c.image .name) (index .root.Values.images .c.image) -}}
{{ $image.repository }}:{{ $image.tag }}
{{- end -}}
{{- end }}

{{/* A DNS-label name for a path, for emptyDir volumes: /var/lib/grafana -> var-lib-grafana */}}
{{- define "spike-to-trace.pathName" -}}
{{ regexReplaceAll "[^a-z0-9]+" (lower (trimPrefix "/" .)) "-" | trunc 63 | trimSuffix "-" }}
{{- end }}
