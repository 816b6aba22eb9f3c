{{/* Names and labels shared by every object. */}}
{{- define "fairscribe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fairscribe.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (list $ "api") */}}
{{- define "fairscribe.selector" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "fairscribe.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "fairscribe.fullname" .)) -}}
{{- end -}}

{{/* Environment every fairscribe container gets: the ConfigMap, the Secret, Temporal and the metrics ports. */}}
{{- define "fairscribe.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "fairscribe.fullname" . }}-config
  - secretRef:
      name: {{ include "fairscribe.secretName" . }}
{{- end -}}

{{/* Pod annotations so a stock Prometheus (kubernetes_sd + these annotations) scrapes our metrics port. */}}
{{- define "fairscribe.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{- define "fairscribe.modelsVolume" -}}
{{- if .Values.models.volume }}
volumes:
  - name: models
    {{- toYaml .Values.models.volume | nindent 4 }}
  - name: blobs
    emptyDir: {}
{{- else }}
volumes:
  - name: blobs
    emptyDir: {}
{{- end }}
{{- end -}}

{{- define "fairscribe.modelsMount" -}}
volumeMounts:
  - name: blobs
    mountPath: {{ .Values.config.BLOB_DIR }}
{{- if .Values.models.volume }}
  - name: models
    mountPath: {{ .Values.config.WHISPER_MODELS_DIR }}
    readOnly: true
{{- end }}
{{- end -}}

{{- define "fairscribe.securityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: false
  capabilities:
    drop: [ALL]
{{- end -}}
