{{/* Name of the chart, or nameOverride. */}}
{{- define "slimnlp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name: <release>-<chart>, or the release name when it already holds the chart name. */}}
{{- define "slimnlp.fullname" -}}
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

{{- define "slimnlp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels (app.kubernetes.io/*); pass (dict "ctx" $ "component" "mlflow"). */}}
{{- define "slimnlp.labels" -}}
helm.sh/chart: {{ include "slimnlp.chart" .ctx }}
{{ include "slimnlp.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: slimnlp
{{- end }}

{{- define "slimnlp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slimnlp.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "slimnlp.mlflow.fullname" -}}
{{- printf "%s-mlflow" (include "slimnlp.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "slimnlp.seaweedfs.fullname" -}}
{{- printf "%s-seaweedfs" (include "slimnlp.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* In-cluster MLflow tracking URI. */}}
{{- define "slimnlp.mlflow.url" -}}
{{- printf "http://%s.%s.svc:%d" (include "slimnlp.mlflow.fullname" .) .Release.Namespace (int .Values.mlflow.service.port) }}
{{- end }}

{{/* S3 endpoint: the configured one, else the dev SeaweedFS Service, else "" (AWS S3). */}}
{{- define "slimnlp.s3.endpoint" -}}
{{- if .Values.mlflow.artifactStore.endpoint }}
{{- .Values.mlflow.artifactStore.endpoint }}
{{- else if .Values.seaweedfs.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "slimnlp.seaweedfs.fullname" .) .Release.Namespace (int .Values.seaweedfs.port) }}
{{- end }}
{{- end }}

{{- define "slimnlp.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret names are required: fail with the key to set rather than render a broken pod. */}}
{{- define "slimnlp.s3.secret" -}}
{{- required "mlflow.artifactStore.existingSecret is required: the name of an existing Secret with the S3 access key pair" .Values.mlflow.artifactStore.existingSecret }}
{{- end }}

{{/* AWS_* variables from the S3 Secret (boto3 and MLflow read them). */}}
{{- define "slimnlp.s3.env" -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "slimnlp.s3.secret" . }}
      key: {{ .Values.mlflow.artifactStore.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "slimnlp.s3.secret" . }}
      key: {{ .Values.mlflow.artifactStore.secretAccessKeyKey }}
- name: AWS_DEFAULT_REGION
  value: {{ .Values.mlflow.artifactStore.region | quote }}
{{- with include "slimnlp.s3.endpoint" . }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
- name: MLFLOW_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{- define "slimnlp.serviceAccountName" -}}
{{- if .Values.retrain.serviceAccount.create }}
{{- default (printf "%s-retrain" (include "slimnlp.fullname" .)) .Values.retrain.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.retrain.serviceAccount.name }}
{{- end }}
{{- end }}
