{{/* The release-qualified name, cut to the 63 characters Kubernetes allows. */}}
{{- define "chartimpact-bot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "chartimpact-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "chartimpact-bot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "chartimpact-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "chartimpact-bot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "chartimpact-bot.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{/* The Secret with the App's credentials: given, or "<fullname>-github". */}}
{{- define "chartimpact-bot.githubSecret" -}}
{{ default (printf "%s-github" (include "chartimpact-bot.fullname" .)) .Values.github.existingSecret }}
{{- end -}}

{{/* Whether the chart creates that Secret from values. */}}
{{- define "chartimpact-bot.createSecret" -}}
{{- if and (not .Values.github.existingSecret) .Values.github.privateKey .Values.github.webhookSecret -}}true{{- end -}}
{{- end -}}

{{/* Redis configured: several replicas and rolling updates are safe. */}}
{{- define "chartimpact-bot.redis" -}}
{{- if or .Values.queue.redisUrl .Values.queue.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* README, "Deploy it": about 1 GB per concurrent analysis plus 300 MB. */}}
{{- define "chartimpact-bot.memory" -}}
{{ add (mul (int .Values.workers) 1024) 300 }}Mi
{{- end -}}

{{- define "chartimpact-bot.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* Refuse what cannot work: sqlite is one pod's file. */}}
{{- define "chartimpact-bot.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "chartimpact-bot.redis" .)) -}}
{{- fail "replicaCount > 1 needs Redis (queue.redisUrl or queue.existingSecret): the default sqlite job store belongs to one pod" -}}
{{- end -}}
{{- if and (not .Values.github.existingSecret) (or .Values.github.privateKey .Values.github.webhookSecret) (not (and .Values.github.privateKey .Values.github.webhookSecret)) -}}
{{- fail "github.privateKey and github.webhookSecret go together (or use github.existingSecret)" -}}
{{- end -}}
{{- if and (include "chartimpact-bot.createSecret" .) (not .Values.github.appId) -}}
{{- fail "github.appId is needed when the chart creates the Secret from github.privateKey and github.webhookSecret" -}}
{{- end -}}
{{- end -}}
