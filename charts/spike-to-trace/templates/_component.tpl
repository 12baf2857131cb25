{{/*
One component of .Values.components: its Deployment, StatefulSet or Job, the volume claim of a
Deployment with persistence, and the Service of its named ports. Every component of the demo is
rendered by this one template (as the OpenTelemetry demo's chart does), so each habit (security
context, probes, resources, named ports, config checksums) is written once.
Called with (dict "root" $ "name" "order" "c" <the component's values>).
*/}}
{{- define "spike-to-trace.component" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $c := .c -}}
{{- $kind := $c.kind | default "Deployment" -}}
{{- $ctx := dict "root" $root "name" $name -}}
{{- $persistent := and $c.persistence $c.persistence.enabled -}}
{{- if has $kind (list "Deployment" "StatefulSet") }}
---
apiVersion: apps/v1
kind: {{ $kind }}
metadata:
  name: {{ $name }}
  labels:
    {{- include "spike-to-trace.labels" $ctx | nindent 4 }}
spec:
  replicas: {{ hasKey $c "replicas" | ternary $c.replicas 1 }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "spike-to-trace.selectorLabels" $ctx | nindent 6 }}
  {{- if eq $kind "StatefulSet" }}
  serviceName: {{ $name }}
  # The replicas share no state: start and replace them all at once, not one after the other.
  podManagementPolicy: Parallel
  {{- else if $persistent }}
  # One ReadWriteOnce volume: the old pod must let go of it before the new one starts.
  strategy:
    type: Recreate
  {{- end }}
  template:
    {{- include "spike-to-trace.podTemplate" . | nindent 4 }}
{{- else if eq $kind "Job" }}
---
apiVersion: batch/v1
kind: Job
metadata:
  # A Job's pod template cannot be changed: every revision of the release (install, upgrade,
  # rollback) is a new Job, and Helm deletes the one before, which stops its load.
  name: {{ $name }}-{{ $root.Release.Revision }}
  labels:
    {{- include "spike-to-trace.labels" $ctx | nindent 4 }}
spec:
  backoffLimit: {{ $c.backoffLimit | default 0 }}
  template:
    {{- include "spike-to-trace.podTemplate" . | nindent 4 }}
{{- else }}
{{- fail (printf "components.%s.kind is %s, not Deployment, StatefulSet or Job" $name $kind) }}
{{- end }}
{{- if and $persistent (eq $kind "Deployment") }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ $name }}-data
  labels:
    {{- include "spike-to-trace.labels" $ctx | nindent 4 }}
spec:
  accessModes: [ReadWriteOnce]
  {{- with $c.persistence.storageClassName }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ $c.persistence.size }}
{{- end }}
{{- if and $c.ports (ne $kind "Job") }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "spike-to-trace.labels" $ctx | nindent 4 }}
spec:
  {{- if and $c.service $c.service.headless }}
  # Headless: the name resolves to every pod, and the EndpointSlices list each one.
  clusterIP: None
  {{- else }}
  type: {{ ($c.service | default dict).type | default "ClusterIP" }}
  {{- end }}
  selector:
    {{- include "spike-to-trace.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- range $portName, $port := $c.ports }}
    - name: {{ $portName }}
      port: {{ $port }}
      targetPort: {{ $portName }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- end }}

{{/* The pod template of a component (same arguments as spike-to-trace.component). */}}
{{- define "spike-to-trace.podTemplate" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $c := .c -}}
{{- $kind := $c.kind | default "Deployment" -}}
{{- $ctx := dict "root" $root "name" $name -}}
{{- $config := "" -}}
{{- range $mount := $c.configMounts }}{{ range $source := $mount.sources }}{{ if not $source.reloaded }}
{{- $config = print $config (include "spike-to-trace.configMapData" (dict "root" $root "name" $source.configMap)) -}}
{{- end }}{{ end }}{{ end -}}
{{- $env := deepCopy ($c.env | default dict) -}}
{{- if eq $c.image "service" }}{{ $env = merge $env $root.Values.serviceEnv }}{{ end -}}
{{- $pullPolicy := $root.Values.servicesImage.pullPolicy -}}
{{- if ne $c.image "service" }}{{ $pullPolicy = (index $root.Values.images $c.image).pullPolicy | default "IfNotPresent" }}{{ end -}}
metadata:
  labels:
    {{- include "spike-to-trace.labels" $ctx | nindent 4 }}
  {{- if $config }}
  annotations:
    # A changed config file rolls the pods: these components do not reload their configuration
    # (except from sources marked reloaded, left out of this sum).
    checksum/config: {{ sha256sum $config }}
  {{- end }}
spec:
  {{- if $c.serviceAccount }}
  serviceAccountName: {{ $c.serviceAccount }}
  {{- else }}
  # No access to the Kubernetes API: only the Collector's agent needs it.
  automountServiceAccountToken: false
  {{- end }}
  # No docker-link variables (TEMPO_PORT=tcp://... for every Service of the namespace).
  enableServiceLinks: false
  {{- if eq $kind "Job" }}
  restartPolicy: Never
  {{- end }}
  securityContext:
    {{- merge (deepCopy ($c.podSecurityContext | default dict)) $root.Values.podSecurityContext | toYaml | nindent 4 }}
  containers:
    - name: {{ $name }}
      image: {{ include "spike-to-trace.image" . }}
      imagePullPolicy: {{ $pullPolicy }}
      {{- with $c.args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $env }}
      env:
        {{- range $key, $value := . }}
        - name: {{ $key }}
          {{- if kindIs "map" $value }}
          valueFrom:
            {{- toYaml $value | nindent 12 }}
          {{- else }}
          value: {{ tpl (toString $value) $root | quote }}
          {{- end }}
        {{- end }}
      {{- end }}
      {{- with $c.ports }}
      ports:
        {{- range $portName, $port := . }}
        - name: {{ $portName }}
          containerPort: {{ $port }}
          protocol: TCP
        {{- end }}
      {{- end }}
      {{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
      {{- with index $c $probe }}
      {{ $probe }}:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- end }}
      resources:
        {{- toYaml (required (printf "components.%s.resources" $name) $c.resources) | nindent 8 }}
      securityContext:
        {{- merge (deepCopy ($c.securityContext | default dict)) $root.Values.containerSecurityContext | toYaml | nindent 8 }}
      volumeMounts:
        {{- range $mount := $c.configMounts }}
        - name: {{ include "spike-to-trace.pathName" $mount.path }}
          mountPath: {{ $mount.path }}
          readOnly: true
        {{- end }}
        {{- range $dir := $c.writableDirs }}
        - name: {{ include "spike-to-trace.pathName" $dir }}
          mountPath: {{ $dir }}
        {{- end }}
        {{- with $c.persistence }}
        - name: data
          mountPath: {{ .mountPath }}
        {{- end }}
  volumes:
    {{- range $mount := $c.configMounts }}
    - name: {{ include "spike-to-trace.pathName" $mount.path }}
      projected:
        sources:
          {{- range $source := $mount.sources }}
          - configMap:
              name: {{ $source.configMap }}
              {{- with $source.dir }}
              items:
                {{- range $key, $_ := include "spike-to-trace.configMapData" (dict "root" $root "name" $source.configMap) | fromYaml }}
                - key: {{ $key }}
                  path: {{ $source.dir }}/{{ $key }}
                {{- end }}
              {{- end }}
          {{- end }}
    {{- end }}
    {{- range $dir := $c.writableDirs }}
    - name: {{ include "spike-to-trace.pathName" $dir }}
      emptyDir: {}
    {{- end }}
    {{- with $c.persistence }}
    - name: data
      {{- if .enabled }}
      persistentVolumeClaim:
        claimName: {{ $name }}-data
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- end }}
{{- end }}
