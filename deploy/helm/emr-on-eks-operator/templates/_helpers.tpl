{{/*
The chart name, or nameOverride; 63 characters at most (a DNS label).
*/}}
{{- define "emr-on-eks-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, else the release name, plus the chart name
unless the release name already contains it.
*/}}
{{- define "emr-on-eks-operator.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "emr-on-eks-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels every object of the release carries.
*/}}
{{- define "emr-on-eks-operator.labels" -}}
helm.sh/chart: {{ include "emr-on-eks-operator.chart" . }}
{{ include "emr-on-eks-operator.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: emr-on-eks-operator
{{- end }}

{{/*
Labels that select the operator pods (never change them after install: selectors are immutable).
*/}}
{{- define "emr-on-eks-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "emr-on-eks-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/*
The ServiceAccount the operator runs as.
*/}}
{{- define "emr-on-eks-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "emr-on-eks-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest, else repository:tag (tag defaults to appVersion).
*/}}
{{- define "emr-on-eks-operator.image" -}}
{{- $repository := required "image.repository is required" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
The leader-election Lease name.
*/}}
{{- define "emr-on-eks-operator.leaseName" -}}
{{- default (include "emr-on-eks-operator.fullname" .) .Values.operator.leaderElection.leaseName }}
{{- end }}

{{/*
The ClusterRole holding EMR's rules (eksctl's emr-containers Role), which the operator binds in
each virtual cluster's namespace: rbac.emrContainersClusterRole, else <fullname>-emr-containers
(emr-on-eks-operator-emr-containers for a release named emr-on-eks-operator, the binary's
default).
*/}}
{{- define "emr-on-eks-operator.emrContainersClusterRole" -}}
{{- default (printf "%s-emr-containers" (include "emr-on-eks-operator.fullname" .)) .Values.rbac.emrContainersClusterRole }}
{{- end }}

{{/*
"true" when the ValidatingAdmissionPolicy guarding that ClusterRole is rendered:
admissionPolicy.enabled true, or auto on a cluster serving admissionregistration.k8s.io/v1
ValidatingAdmissionPolicy (Kubernetes 1.30+). `helm template` without a cluster lists group
versions only, so auto also accepts admissionregistration.k8s.io/v1 on a 1.30+ KubeVersion.
*/}}
{{- define "emr-on-eks-operator.admissionPolicyEnabled" -}}
{{- $mode := toString .Values.admissionPolicy.enabled }}
{{- if eq $mode "true" }}
{{- "true" }}
{{- else if eq $mode "auto" }}
{{- $caps := .Capabilities }}
{{- if or ($caps.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy") (and ($caps.APIVersions.Has "admissionregistration.k8s.io/v1") (semverCompare ">=1.30.0-0" $caps.KubeVersion.Version)) }}
{{- "true" }}
{{- end }}
{{- else if ne $mode "false" }}
{{- fail (printf "admissionPolicy.enabled must be auto, true or false, not %q" $mode) }}
{{- end }}
{{- end }}
