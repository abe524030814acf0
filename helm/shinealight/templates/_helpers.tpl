{{/*
Names and labels, after the `helm create` conventions: every object carries the
recommended app.kubernetes.io/* labels plus a component label; selectors use only the
immutable subset (name, instance, component).
*/}}

{{- define "shinealight.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-scoped base name; a release called "shinealight" keeps its name. */}}
{{- define "shinealight.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "shinealight.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels; call with (dict "ctx" $ "component" "watcher"). */}}
{{- define "shinealight.labels" -}}
helm.sh/chart: {{ include "shinealight.chart" .ctx }}
{{ include "shinealight.selectorLabels" . }}
app.kubernetes.io/part-of: shinealight
{{- if .ctx.Chart.AppVersion }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{- define "shinealight.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shinealight.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "shinealight.brokerName" -}}
{{- printf "%s-mosquitto" (include "shinealight.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shinealight.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-watcher" (include "shinealight.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "shinealight.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{- define "shinealight.authSecretName" -}}
{{- default (printf "%s-mqtt-auth" (include "shinealight.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* Topic prefix, validated like bus/topics.py: empty, or ending in '/' without wildcards. */}}
{{- define "shinealight.topicPrefix" -}}
{{- $p := .Values.bus.topicPrefix | toString }}
{{- if and $p (or (not (hasSuffix "/" $p)) (regexMatch "[+#]" $p)) }}
{{- fail (printf "bus.topicPrefix %q: must be empty or end in '/', without '+' or '#'" $p) }}
{{- end }}
{{- $p }}
{{- end }}

{{/* host:port of the bus: bus.host, else this release's broker Service. */}}
{{- define "shinealight.busHost" -}}
{{- if .Values.bus.host }}
{{- .Values.bus.host }}
{{- else if .Values.broker.enabled }}
{{- include "shinealight.brokerName" . }}
{{- else }}
{{- fail "broker.enabled=false needs bus.host (the broker the watchers and agents should use)" }}
{{- end }}
{{- end }}

{{/*
The environment that tells a client where the bus is: MQTT_URL (read by every part when
--broker is not given). With auth, the password comes from the Secret key named after
the user and is spliced in by Kubernetes' $(VAR) expansion, so it never appears in the
pod spec or on a command line. Call with (dict "ctx" $ "user" "watcher").
*/}}
{{- define "shinealight.busEnv" -}}
{{- $ctx := .ctx }}
{{- $hostPort := printf "%s:%v" (include "shinealight.busHost" $ctx) $ctx.Values.bus.port }}
{{- if $ctx.Values.auth.enabled }}
- name: MQTT_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "shinealight.authSecretName" $ctx }}
      key: {{ .user }}
- name: MQTT_URL
  value: {{ printf "%s://%s:$(MQTT_PASSWORD)@%s" $ctx.Values.bus.scheme .user $hostPort | quote }}
{{- else }}
- name: MQTT_URL
  value: {{ printf "%s://%s" $ctx.Values.bus.scheme $hostPort | quote }}
{{- end }}
{{- end }}

{{/* Arguments shared by watcher and agent. */}}
{{- define "shinealight.prefixArgs" -}}
{{- with (include "shinealight.topicPrefix" .) }}
- --topic-prefix={{ . }}
{{- end }}
{{- end }}

{{/*
Pod annotations: the component's podAnnotations plus checksums that roll the pods when
what they read at start changes. Call with (dict "ctx" $ "extra" podAnnotations
"config" true-for-the-broker); prints nothing when there is nothing to annotate.
*/}}
{{- define "shinealight.podAnnotations" -}}
{{- $ctx := .ctx }}
{{- $ann := deepCopy (.extra | default dict) }}
{{- if .config }}
{{- $_ := set $ann "checksum/config" (include (print $ctx.Template.BasePath "/broker-configmap.yaml") $ctx | sha256sum) }}
{{- end }}
{{- if and $ctx.Values.auth.enabled (not $ctx.Values.auth.existingSecret) }}
{{- $_ := set $ann "checksum/auth" (include (print $ctx.Template.BasePath "/auth-secret.yaml") $ctx | sha256sum) }}
{{- end }}
{{- with $ann }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The non-privileged container security context. */}}
{{- define "shinealight.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* A nodeSelector with every value a string (`--set sel.x=true` would give a bool). */}}
{{- define "shinealight.nodeSelector" -}}
{{- range $key, $value := . }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
