{{/* Names, labels and values derived once, used by every template. */}}

{{- define "detour.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "detour.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "detour.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "detour.operatorName" -}}{{ include "detour.fullname" . }}-operator{{- end }}
{{- define "detour.webhookName" -}}{{ include "detour.fullname" . }}-webhook{{- end }}
{{- define "detour.webhookSecretName" -}}{{ include "detour.fullname" . }}-webhook-tls{{- end }}
{{/* Cluster-scoped: one Detour installation per cluster. */}}
{{- define "detour.webhookConfigName" -}}{{ include "detour.fullname" . }}{{- end }}
{{- define "detour.leaseName" -}}{{ include "detour.fullname" . }}-operator{{- end }}

{{- define "detour.labels" -}}
helm.sh/chart: {{ include "detour.chart" . }}
app.kubernetes.io/name: {{ include "detour.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: detour
{{- end }}

{{/* Selector labels of one component: include with (dict "ctx" $ "component" "operator"). */}}
{{- define "detour.selectorLabels" -}}
app.kubernetes.io/name: {{ include "detour.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "detour.componentLabels" -}}
{{ include "detour.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "detour.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "detour.sidecarImage" -}}
{{- $repo := default .Values.image.repository .Values.sidecar.image.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.sidecar.image.tag }}
{{- $digest := .Values.sidecar.image.digest }}
{{- if and (not $digest) (not .Values.sidecar.image.repository) (not .Values.sidecar.image.tag) }}
{{- $digest = .Values.image.digest }}
{{- end }}
{{- if $digest }}
{{- printf "%s@%s" $repo $digest }}
{{- else }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{- define "detour.operatorUrl" -}}
{{- if .Values.sidecar.operatorUrl }}
{{- .Values.sidecar.operatorUrl }}
{{- else }}
{{- printf "wss://%s.%s.svc:8081/control" (include "detour.operatorName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "detour.systemNamespaces" -}}
{{- uniq (append .Values.webhook.systemNamespaces .Release.Namespace) | join "," }}
{{- end }}

{{- define "detour.certManager" -}}
{{- eq .Values.certificates.manager "cert-manager" }}
{{- end }}
