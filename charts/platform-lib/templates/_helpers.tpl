{{/* Names and labels. */}}
{{- define "platform-lib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform-lib.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "platform-lib.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "platform-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "platform-lib.labels" -}}
helm.sh/chart: {{ include "platform-lib.chart" . }}
{{ include "platform-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: edu-support
{{- end -}}

{{/* The service's environment prefix: intake -> INTAKE, training-scheduling -> TRAINING_SCHEDULING. */}}
{{- define "platform-lib.envPrefix" -}}
{{- .Chart.Name | upper | replace "-" "_" -}}
{{- end -}}

{{- define "platform-lib.image" -}}
{{- $registry := default .Values.image.registry ((.Values.global).imageRegistry) -}}
{{- $tag := default .Chart.AppVersion (default .Values.image.tag ((.Values.global).imageTag)) -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "platform-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "platform-lib.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding DATABASE__URL, REDIS__URL, BUS__URL, AUTH__JWT_SECRET (with the prefix). */}}
{{- define "platform-lib.secretName" -}}
{{- default (printf "%s-secrets" .Chart.Name) .Values.existingSecret -}}
{{- end -}}

{{/* The service's config.toml: values.config (section -> key -> value), with the listen
     address and port forced to what the pod exposes, and start-up migrations off when the
     migration Job runs them. */}}
{{- define "platform-lib.configToml" -}}
{{- $forced := dict "http" (dict "host" "0.0.0.0" "port" (int .Values.service.port)) -}}
{{- if .Values.migrations.enabled -}}
{{- $_ := set $forced "database" (dict "run_migrations" false) -}}
{{- end -}}
{{- $config := mustMergeOverwrite (deepCopy (default dict .Values.config)) $forced -}}
# Rendered from the chart's values (config:); secrets come from the environment.
{{- range $section, $keys := $config }}

[{{ $section }}]
{{- range $key, $value := $keys }}
{{ $key }} = {{ toJson $value }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment shared by the Deployment and the migration Job. */}}
{{- define "platform-lib.env" -}}
- name: CONFIG_FILE
  value: /etc/{{ .Chart.Name }}/config.toml
- name: OTEL_SERVICE_NAME
  value: {{ .Chart.Name | quote }}
{{- $otel := default .Values.otel.endpoint ((.Values.global).otelEndpoint) }}
{{- if $otel }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otel | quote }}
{{- end }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "platform-lib.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
