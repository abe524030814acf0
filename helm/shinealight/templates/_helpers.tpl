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

{{/* The host of the bus: bus.host, else this release's broker Service. */}}
{{- define "shinealight.busHost" -}}
{{- if .Values.bus.host }}
{{- .Values.bus.host }}
{{- else if .Values.broker.enabled }}
{{- include "shinealight.brokerName" . }}
{{- else }}
{{- fail "broker.enabled=false needs bus.host (the broker the watchers and agents should use)" }}
{{- end }}
{{- end }}

{{/* True (non-empty) when the pods talk to this release's broker. */}}
{{- define "shinealight.bundledBroker" -}}
{{- if and .Values.broker.enabled (not .Values.bus.host) }}true{{ end }}
{{- end }}

{{- define "shinealight.busScheme" -}}
{{- if .Values.bus.scheme }}
{{- .Values.bus.scheme }}
{{- else if and (include "shinealight.bundledBroker" .) .Values.broker.tls.enabled }}
{{- "mqtts" }}
{{- else }}
{{- "mqtt" }}
{{- end }}
{{- end }}

{{- define "shinealight.busPort" -}}
{{- if .Values.bus.port }}
{{- .Values.bus.port }}
{{- else if include "shinealight.bundledBroker" . }}
{{- .Values.broker.service.mqttPort }}
{{- else }}
{{- get (dict "mqtt" 1883 "mqtts" 8883 "ws" 80 "wss" 443) (include "shinealight.busScheme" .) }}
{{- end }}
{{- end }}

{{/* The Secret holding the CA for mqtts/wss clients; empty: the image's system CAs. */}}
{{- define "shinealight.caSecret" -}}
{{- if .Values.bus.tls.caSecret }}
{{- .Values.bus.tls.caSecret }}
{{- else if and (include "shinealight.bundledBroker" .) .Values.broker.tls.enabled }}
{{- required "broker.tls.enabled needs broker.tls.secretName (a kubernetes.io/tls Secret)" .Values.broker.tls.secretName }}
{{- end }}
{{- end }}

{{/* Every MQTT user of the chart: watcher, agent, then the viewers (validated). */}}
{{- define "shinealight.users" -}}
{{- $users := list "watcher" "agent" }}
{{- range .Values.auth.viewers }}
{{- if or (not (regexMatch "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" .)) (has . (list "watcher" "agent" "node")) (has . $users) }}
{{- fail (printf "auth.viewers: %q is not a usable viewer name (letters, digits, '.', '_', '-'; not watcher, agent, node; no duplicates)" .) }}
{{- end }}
{{- $users = append $users . }}
{{- end }}
{{- toJson $users }}
{{- end }}

{{- define "shinealight.passwordDir" -}}/etc/shinealight/mqtt{{- end }}
{{- define "shinealight.caDir" -}}/etc/shinealight/mqtt-ca{{- end }}

{{/*
The environment that tells a client where the bus is and who it is: MQTT_URL (never with
a password), MQTT_USERNAME and MQTT_PASSWORD_FILE (the user's Secret key, mounted by
shinealight.busVolumes), SSL_CERT_FILE for a private CA. Call with
(dict "ctx" $ "user" "watcher").
*/}}
{{- define "shinealight.busEnv" -}}
{{- $ctx := .ctx }}
- name: MQTT_URL
  value: {{ printf "%s://%s:%v" (include "shinealight.busScheme" $ctx) (include "shinealight.busHost" $ctx) (include "shinealight.busPort" $ctx) | quote }}
{{- if $ctx.Values.auth.enabled }}
- name: MQTT_USERNAME
  value: {{ .user | quote }}
- name: MQTT_PASSWORD_FILE
  value: {{ printf "%s/password" (include "shinealight.passwordDir" $ctx) | quote }}
{{- end }}
{{- if include "shinealight.caSecret" $ctx }}
- name: SSL_CERT_FILE
  value: {{ printf "%s/%s" (include "shinealight.caDir" $ctx) $ctx.Values.bus.tls.caKey | quote }}
{{- end }}
{{- end }}

{{/* The volumes behind shinealight.busEnv; call with (dict "ctx" $ "user" "agent"). */}}
{{- define "shinealight.busVolumes" -}}
{{- $ctx := .ctx }}
{{- if $ctx.Values.auth.enabled }}
- name: mqtt-password
  secret:
    secretName: {{ include "shinealight.authSecretName" $ctx }}
    defaultMode: 0440
    items:
      - key: {{ .user }}
        path: password
{{- end }}
{{- with include "shinealight.caSecret" $ctx }}
- name: mqtt-ca
  secret:
    secretName: {{ . }}
    defaultMode: 0444
    items:
      - key: {{ $ctx.Values.bus.tls.caKey }}
        path: {{ $ctx.Values.bus.tls.caKey }}
{{- end }}
{{- end }}

{{- define "shinealight.busVolumeMounts" -}}
{{- if .Values.auth.enabled }}
- name: mqtt-password
  mountPath: {{ include "shinealight.passwordDir" . }}
  readOnly: true
{{- end }}
{{- if include "shinealight.caSecret" . }}
- name: mqtt-ca
  mountPath: {{ include "shinealight.caDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* The health port and the probes on it; call with the port number. */}}
{{- define "shinealight.healthProbes" -}}
ports:
  - name: http
    containerPort: {{ . }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  initialDelaySeconds: 10
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
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

{{/* The pod security context of the image's pods: non-root uid 10001 (the Dockerfile's user). */}}
{{- define "shinealight.imagePodSecurity" -}}
{{- toYaml .Values.podSecurityContext }}
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
{{- end }}

{{/* The non-privileged container security context (Pod Security `restricted`). */}}
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
