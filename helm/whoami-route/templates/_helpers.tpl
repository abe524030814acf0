{{/*
The route is named by `name`, not by the release: the console patches it by that name,
and the release (whoami-route) is only its owner.
*/}}

{{- define "whoami-route.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: whoami
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The backends as a YAML list of {name, port, weight}: port 80 and weight 1 where not
given, and no name twice (the route would count it twice).
*/}}
{{- define "whoami-route.backends" -}}
{{- $seen := dict }}
{{- range .Values.backends }}
{{- if hasKey $seen .name }}
{{- fail (printf "backends: %q is listed twice; give each release once" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
- name: {{ .name }}
  port: {{ .port | default 80 }}
  weight: {{ if hasKey . "weight" }}{{ .weight }}{{ else }}1{{ end }}
{{- end }}
{{- end }}
