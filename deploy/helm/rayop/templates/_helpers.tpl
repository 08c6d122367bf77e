{{/* The release's object name: the release name if it contains "rayop", else <release>-rayop. */}}
{{- define "rayop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rayop.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rayop.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (printf "%s-leader" (include "rayop.fullname" .)) -}}
{{- end -}}

{{/*
What rayop does with the API, and nothing more; the reasons for every rule
are in deploy/manifests/cluster/clusterrole.yaml. In short: list+watch caches,
server-side apply (patch, plus create for new objects), deletes of what it
removes, status through the subresource, Events; pods/resize and get/patch on
rayclusters only because the autoscaler Role rayop creates grants them, and
RBAC allows creating a Role only with permissions one holds.
*/}}
{{- define "rayop.rules" -}}
- apiGroups: ["ray.io"]
  resources: ["rayclusters"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["ray.io"]
  resources: ["rayclusters/status"]
  verbs: ["patch"]
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: ["cert-manager.io"]
  resources: ["issuers", "certificates"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods/resize"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# Lists a StatefulSet's FailedCreate Events, only while it lacks pods.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
{{- end -}}
