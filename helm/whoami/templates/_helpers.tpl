{{/*
Names and labels. The Service (and everything else) is named after the release, so the
releases `whoami` and `whoamiv2` of this chart live side by side for blue-green and
canary.
*/}}

{{- define "whoami.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "whoami.fullname" -}}
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

{{- define "whoami.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "whoami.labels" -}}
helm.sh/chart: {{ include "whoami.chart" . }}
{{ include "whoami.selectorLabels" . }}
app.kubernetes.io/version: {{ include "whoami.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Immutable: never the colour or version, which change on upgrades. */}}
{{- define "whoami.selectorLabels" -}}
app.kubernetes.io/name: {{ include "whoami.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The colour as a label value: --set may hand over a string or (for 123456) a number; a
leading '#' is dropped; anything but 3 or 6 hex digits fails the render.
*/}}
{{- define "whoami.color" -}}
{{- $color := .Values.color | toString | trimPrefix "#" }}
{{- if not (regexMatch "^([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$" $color) }}
{{- fail (printf "color %q: use 3 or 6 hex digits, e.g. FFFF00" (toString .Values.color)) }}
{{- end }}
{{- $color }}
{{- end }}

{{- define "whoami.version" -}}
{{- $version := .Values.version | toString }}
{{- if not (regexMatch "^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$" $version) }}
{{- fail (printf "version %q: must be a valid label value (letters, digits, '.', '-', '_', at most 63)" $version) }}
{{- end }}
{{- $version }}
{{- end }}

{{/* A nodeSelector with every value a string (`--set sel.x=true` would give a bool). */}}
{{- define "whoami.nodeSelector" -}}
{{- range $key, $value := . }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
