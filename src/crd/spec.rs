//! The desired state of a RayCluster: `spec`, and the `ray.io/v1` resource
//! [`RayCluster`] derived from it.
//!
//! Role: the type every other part of rayop reads. Its JSON names and schema
//! defaults are KubeRay's, so KubeRay manifests apply unmodified; unknown
//! fields are ignored when deserializing (serde's default), so a manifest with
//! KubeRay fields rayop does not model still parses (the API server prunes
//! them from the stored object).
//!
//! The `ray.io/v1alpha1` twin lives in [`versions`](crate::crd::versions); it
//! shares this spec and the status type, so the two schemas are identical.
//! Any `#[kube(...)]` change here must be made there too; a test compares them.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::{
    auth::AuthOptions,
    autoscaler::AutoscalerOptions,
    cel, defaults,
    gcs::GcsFaultToleranceOptions,
    head::{HeadGroupSpec, HeadServiceOptions},
    history_server::HistoryServerOptions,
    network_policy::NetworkPolicyOptions,
    status::RayClusterStatus,
    tls::TlsOptions,
    upgrade::UpgradeStrategy,
    worker_group::{WorkerGroupSpec, WorkloadKind},
};

/// `managedBy` values that leave a RayCluster to rayop.
pub const MANAGED_BY_RAYOP: [&str; 2] = ["ray.io/rayop", "ray.io/kuberay-operator"];

/// A Ray cluster: one head pod and groups of worker pods, kept at the size the
/// spec or the Ray autoscaler asks for.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ray.io",
    version = "v1",
    kind = "RayCluster",
    namespaced,
    status = "RayClusterStatus",
    derive = "PartialEq",
    category = "all",
    doc = "A Ray cluster: one head pod and groups of worker pods, kept at the size the spec or the Ray autoscaler asks for.",
    printcolumn(name = "desired workers", type_ = "integer", json_path = ".status.desiredWorkerReplicas", description = "Worker pods wanted"),
    printcolumn(name = "available workers", type_ = "integer", json_path = ".status.availableWorkerReplicas", description = "Worker pods Running"),
    printcolumn(name = "cpus", type_ = "string", json_path = ".status.desiredCPU", description = "CPU the head and all workers ask for"),
    printcolumn(name = "memory", type_ = "string", json_path = ".status.desiredMemory", description = "Memory the head and all workers ask for"),
    printcolumn(name = "gpus", type_ = "string", json_path = ".status.desiredGPU", description = "GPUs the head and all workers ask for"),
    printcolumn(name = "tpus", type_ = "string", json_path = ".status.desiredTPU", description = "TPUs the head and all workers ask for", priority = 1),
    printcolumn(name = "status", type_ = "string", json_path = ".status.state", description = "KubeRay's state: ready or suspended"),
    printcolumn(name = "phase", type_ = "string", json_path = ".status.phase", description = "rayop's phase of the cluster"),
    printcolumn(name = "age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "head pod IP", type_ = "string", json_path = ".status.head.podIP", description = "IP of the head pod", priority = 1),
    printcolumn(name = "head service IP", type_ = "string", json_path = ".status.head.serviceIP", description = "IP of the head Service, or of the head pod when the Service is headless", priority = 1),
    validation = cel::CLUSTER_NAME_IS_DNS1035.to_rule(),
    validation = cel::CLUSTER_NAME_LENGTH.to_rule(),
    validation = cel::WORKER_NAME_LENGTH.to_rule()
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::spec_rules)]
pub struct RayClusterSpec {
    /// Ray version of the cluster's image. Without an image in a template the
    /// Ray container runs `rayproject/ray:<rayVersion>`. The API server stores
    /// the default at creation, so an operator upgrade never changes the image
    /// of an existing cluster.
    /// It is an image tag, so only a tag's characters are accepted: letters,
    /// digits, `_`, `.` and `-`, not starting with `.` or `-`, at most 128.
    #[serde(default = "defaults::ray_version")]
    #[schemars(length(min = 1), regex(pattern = crate::crd::names::RAY_VERSION_PATTERN))]
    pub ray_version: String,

    /// The head pod. Optional in rayop (required in KubeRay): when omitted,
    /// the API server stores an empty one, whose template then defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {}))]
    pub head_group_spec: Option<HeadGroupSpec>,

    /// Groups of worker pods. A list keyed by `groupName` for server-side
    /// apply, so each field of a group has its own owner: a GitOps tool that
    /// applies a manifest without `replicas` never resets the replicas the Ray
    /// autoscaler set (KubeRay #1120, #4149).
    #[serde(default)]
    #[schemars(length(max = cel::MAX_WORKER_GROUPS), transform = cel::worker_groups_rules)]
    #[schemars(extend(
        "default" = [],
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["groupName"],
    ))]
    pub worker_group_specs: Vec<WorkerGroupSpec>,

    /// Runs the Ray autoscaler as a sidecar of the head; it sets each group's
    /// `replicas` within its bounds and names the workers to remove. Worker
    /// groups then default to Deployments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_in_tree_autoscaling: Option<bool>,

    /// How the Ray autoscaler sidecar runs (image, resources, env) and scales
    /// (idle timeout, upscaling). Read only when `enableInTreeAutoscaling` is
    /// true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_options: Option<AutoscalerOptions>,

    /// Annotations added to the head Service (`<cluster>-head-svc` unless
    /// `headGroupSpec.headService.metadata.name` names it), over those
    /// of `headGroupSpec.headService`; on the same key, these win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_service_annotations: Option<BTreeMap<String, String>>,

    /// Suspends the cluster: every pod is deleted and none is created until
    /// it is unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,

    /// GCS fault tolerance: the head keeps GCS state in an external Redis or
    /// an embedded RocksDB on a volume, so workers survive a head restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs_fault_tolerance_options: Option<GcsFaultToleranceOptions>,

    /// The controller that reconciles this cluster. rayop reconciles it when
    /// unset, `ray.io/rayop` or `ray.io/kuberay-operator`, and leaves it alone
    /// otherwise. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63), transform = cel::managed_by_rules)]
    pub managed_by: Option<String>,

    /// NetworkPolicies for the cluster's pods: `<cluster>-head` and one
    /// `<cluster>-workers-<group>` per worker group, denying what `mode` says
    /// except traffic between the cluster's own pods and the rules given.
    /// DNS egress is not added: under DenyAll or DenyAllEgress add a rule for
    /// it, or workers cannot resolve the head. Removing this field deletes the
    /// policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicyOptions>,

    /// The seed's spelling of head Service settings: `headService.type` is
    /// `headGroupSpec.serviceType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_service: Option<HeadServiceOptions>,

    /// How pods follow a spec change. `Recreate` replaces all of a changed
    /// template's pods at once; `None` never replaces running pods (pods
    /// created later use the new template). Unset: pods are replaced one at
    /// a time. Not allowed on clusters of a RayJob or RayService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_strategy: Option<UpgradeStrategy>,

    /// Ray token authentication: with `mode: token` every Ray process needs
    /// the cluster's token, which rayop puts in a Secret it creates once
    /// (or reads from `secretName`), or Kubernetes ServiceAccount tokens
    /// with `enableK8sTokenAuth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_options: Option<AuthOptions>,

    /// The Ray history server's collector: a `ray-history-collector`
    /// sidecar in every Ray pod that uploads Ray's events and logs to the
    /// storage its env names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_server_options: Option<HistoryServerOptions>,

    /// Mutual TLS between the Ray nodes, with certificates from
    /// cert-manager: Ray pods start once their certificates are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_options: Option<TlsOptions>,
}

impl RayClusterSpec {
    /// Whether `enableInTreeAutoscaling` is true (unset means off).
    #[must_use]
    pub fn autoscaling_enabled(&self) -> bool {
        self.enable_in_tree_autoscaling == Some(true)
    }

    /// Whether `suspend` is true (unset means running).
    #[must_use]
    pub fn suspended(&self) -> bool {
        self.suspend == Some(true)
    }

    /// Whether `gcsFaultToleranceOptions` is set. Fault tolerance is also on
    /// with the deprecated annotation; see [`gcs::ft_enabled`](crate::crd::gcs::ft_enabled).
    #[must_use]
    pub fn gcs_fault_tolerant(&self) -> bool {
        self.gcs_fault_tolerance_options.is_some()
    }

    /// The auth options when authentication is on (`mode: token`).
    #[must_use]
    pub fn token_auth(&self) -> Option<&AuthOptions> {
        self.auth_options
            .as_ref()
            .filter(|auth| auth.token_enabled())
    }

    /// The collector's options when `historyServerOptions` is set.
    #[must_use]
    pub fn history_collector(&self) -> Option<&crate::crd::history_server::CollectorOptions> {
        self.history_server_options
            .as_ref()
            .and_then(|h| h.collector_options.as_ref())
    }

    /// Whether `tlsOptions.enabled` is true (unset means off).
    #[must_use]
    pub fn tls_enabled(&self) -> bool {
        self.tls_options
            .as_ref()
            .is_some_and(|tls| tls.enabled == Some(true))
    }

    /// Whether rayop, rather than another controller, reconciles this cluster.
    #[must_use]
    pub fn managed_by_rayop(&self) -> bool {
        self.managed_by
            .as_deref()
            .is_none_or(|manager| MANAGED_BY_RAYOP.contains(&manager))
    }

    /// The workload that runs `group`: its `workloadKind`, else `Deployment`
    /// with in-tree autoscaling (the autoscaler deletes chosen pods, which a
    /// Deployment can remove first and a StatefulSet cannot), else `StatefulSet`.
    #[must_use]
    pub fn effective_workload_kind(&self, group: &WorkerGroupSpec) -> WorkloadKind {
        group
            .workload_kind
            .unwrap_or(if self.autoscaling_enabled() {
                WorkloadKind::Deployment
            } else {
                WorkloadKind::StatefulSet
            })
    }

    /// The name a user gave the head Service in
    /// `headGroupSpec.headService.metadata.name`, if any (empty counts as none).
    #[must_use]
    pub fn custom_head_service_name(&self) -> Option<&str> {
        self.head_group_spec
            .as_ref()
            .and_then(|head| head.head_service.as_ref())
            .and_then(|service| service.metadata.name.as_deref())
            .filter(|name| !name.is_empty())
    }

    /// Name of the head Service of the cluster `cluster`:
    /// [`Self::custom_head_service_name`] when set, else
    /// [`names::head_service_name`](crate::crd::names::head_service_name).
    /// Every user of the head Service's name goes through this.
    #[must_use]
    pub fn head_service_name(&self, cluster: &str) -> String {
        self.custom_head_service_name().map_or_else(
            || crate::crd::names::head_service_name(cluster),
            str::to_owned,
        )
    }

    /// The worker group whose `groupName` is `name` (names are unique).
    #[must_use]
    pub fn worker_group(&self, name: &str) -> Option<&WorkerGroupSpec> {
        self.worker_group_specs
            .iter()
            .find(|group| group.group_name == name)
    }
}

impl Default for RayClusterSpec {
    fn default() -> Self {
        Self {
            ray_version: defaults::ray_version(),
            head_group_spec: None,
            worker_group_specs: Vec::new(),
            enable_in_tree_autoscaling: None,
            autoscaler_options: None,
            head_service_annotations: None,
            suspend: None,
            gcs_fault_tolerance_options: None,
            managed_by: None,
            head_service: None,
            upgrade_strategy: None,
            auth_options: None,
            history_server_options: None,
            network_policy: None,
            tls_options: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_kind_follows_autoscaling_unless_set() {
        let mut spec = RayClusterSpec::default();
        let mut group = WorkerGroupSpec::new("g");
        assert_eq!(
            spec.effective_workload_kind(&group),
            WorkloadKind::StatefulSet
        );
        spec.enable_in_tree_autoscaling = Some(true);
        assert_eq!(
            spec.effective_workload_kind(&group),
            WorkloadKind::Deployment
        );
        group.workload_kind = Some(WorkloadKind::StatefulSet);
        assert_eq!(
            spec.effective_workload_kind(&group),
            WorkloadKind::StatefulSet
        );
    }

    #[test]
    fn managed_by() {
        let mut spec = RayClusterSpec::default();
        assert!(spec.managed_by_rayop());
        spec.managed_by = Some("ray.io/rayop".into());
        assert!(spec.managed_by_rayop());
        spec.managed_by = Some("kueue.x-k8s.io/multikueue".into());
        assert!(!spec.managed_by_rayop());
    }
}
