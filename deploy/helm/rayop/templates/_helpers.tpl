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
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["ray.io"]
  resources: ["rayjobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["ray.io"]
  resources: ["raycronjobs"]
  verbs: ["list", "watch"]
- apiGroups: ["ray.io"]
  resources: ["raycronjobs/status"]
  verbs: ["patch"]
- apiGroups: ["ray.io"]
  resources: ["rayjobs/status"]
  verbs: ["patch"]
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
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies", "ingresses"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["list", "watch", "create", "patch"]
# The Ray auth token Secret: created once, never patched or deleted
# (garbage collection removes it); a user's `secretName` is only listed.
# `get`: the two leaf Secrets cert-manager writes for tlsOptions, checked
# for tls.crt, tls.key and ca.crt before any Ray pod is created.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: ["cert-manager.io"]
  resources: ["issuers", "certificates"]
  verbs: ["list", "watch", "create", "patch"]
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
# Batch schedulers' PodGroups (--batch-scheduler=volcano or scheduler-plugins);
# granted always, used only under those flags. Never deleted: the garbage
# collector removes them with their RayCluster.
- apiGroups: ["scheduling.volcano.sh", "scheduling.x-k8s.io"]
  resources: ["podgroups"]
  verbs: ["list", "watch", "create", "patch"]
{{- end -}}
