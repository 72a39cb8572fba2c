{{- define "moby.greeting" -}}
hello {{ .Values.inner }}
{{- end }}
{{- define "moby.recurse" -}}
{{- if gt (int .n) 0 }}{{ .n }}{{ include "moby.recurse" (dict "n" (sub (int .n) 1)) }}{{ end }}
{{- end }}
