//! A worker group of a RayCluster: one entry of `spec.workerGroupSpecs`.
//!
//! Role: data only, with KubeRay's JSON names and schema defaults
//! (`replicas` 0, `minReplicas` 0, `maxReplicas` 2147483647, `numOfHosts` 1).
//! The operator clamps `replicas` into `[minReplicas, maxReplicas]` rather than
//! refusing a value outside it, as KubeRay does: the Ray autoscaler writes
//! `replicas` and must never be refused.
//!
//! rayop additions: `workloadKind` (a StatefulSet or a Deployment; see
//! [`RayClusterSpec::effective_workload_kind`](crate::crd::RayClusterSpec::effective_workload_kind)),
//! `horizontalPodAutoscaler` and `volumeClaimTemplates`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::{cel, defaults, limits, names, schema};

/// One group of identical Ray worker pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::worker_group_rules)]
pub struct WorkerGroupSpec {
    /// Name of the group, unique within the cluster. A DNS-1035 label that,
    /// with the cluster's name, has at most 51 characters; `head` and
    /// `headgroup` are reserved. It names the group's workload
    /// `<cluster>-<groupName>` and its `ray.io/group` label.
    #[schemars(
        regex(pattern = names::DNS1035_LABEL_PATTERN),
        length(min = 1, max = names::MAX_GROUP_NAME),
        transform = cel::group_name_rules
    )]
    pub group_name: String,

    /// Desired number of replicas (each `numOfHosts` pods), 0 by default. The
    /// operator clamps it into `[minReplicas, maxReplicas]`; with in-tree
    /// autoscaling the Ray autoscaler writes it. `replicas × numOfHosts` may
    /// be at most 10000 pods, and all groups together at most 20000.
    #[serde(default = "defaults::replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,

    /// Fewest replicas the group runs, 0 by default: a lower `replicas` is
    /// raised to it, and the Ray autoscaler never scales below it.
    /// `minReplicas × numOfHosts` may be at most 10000 pods.
    #[serde(default = "defaults::min_replicas")]
    #[schemars(range(min = 0))]
    pub min_replicas: i32,

    /// Most replicas the group runs: a higher `replicas` is lowered to it,
    /// and the autoscaler (Ray's or an HPA) never scales above it. When set,
    /// `maxReplicas × numOfHosts` may be at most 10000 pods. Unset it is
    /// 2147483647, as in KubeRay, and rayop caps it at the 10000 pods a group
    /// may have (a `SpecAdjusted` condition says so on autoscaled groups).
    #[serde(default = "defaults::max_replicas")]
    #[schemars(range(min = 0))]
    pub max_replicas: i32,

    /// Pods per replica, for multi-host accelerators: a replica is
    /// `numOfHosts` pods that are created and deleted together. At most 4096.
    #[serde(default = "defaults::num_of_hosts")]
    #[schemars(range(min = 1, max = limits::MAX_NUM_OF_HOSTS))]
    pub num_of_hosts: i32,

    /// Flags for `ray start` on this group's pods: each entry becomes
    /// `--key=value`; `"true"` becomes a bare `--key`, `"false"` drops the flag.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub ray_start_params: BTreeMap<String, String>,

    /// Pod template of the group's workers. Its first container runs Ray; a
    /// container without an image gets `rayproject/ray:<rayVersion>`. When
    /// omitted, the API server stores a default: one container `ray-worker`
    /// with 1 CPU and 1Gi of memory (requests equal limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::worker_template")]
    pub template: Option<PodTemplateSpec>,

    /// Workers the Ray autoscaler chose to remove. The operator deletes these
    /// pods first when it scales the group down; the autoscaler clears the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_strategy: Option<ScaleStrategy>,

    /// Seconds a worker of this group may idle before the autoscaler removes
    /// it; overrides `autoscalerOptions.idleTimeoutSeconds` for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub idle_timeout_seconds: Option<i32>,

    /// Suspends this group alone: its workers are deleted and none are created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,

    /// Ray node labels of this group: passed to `ray start` as
    /// `--labels=k1=v1,...` (keys sorted) and added to the pods' labels
    /// (over the template's; `ray.io/cluster`, `ray.io/node-type` and
    /// `ray.io/group` stay rayop's). Keys and values must be valid label keys
    /// and values; `rayStartParams.labels` cannot be set as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Ray resources of this group's workers, as quantities: `cpu` becomes
    /// `--num-cpus`, `memory` `--memory` (bytes), a GPU name (ending in `gpu`)
    /// `--num-gpus`, each rounded up; any other name goes into `--resources`
    /// as is (for example `TPU`). Keys match case-insensitively; the pods'
    /// container resources are not changed. Not allowed beside
    /// `rayStartParams` `num-cpus`, `num-gpus`, `memory` or `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<BTreeMap<String, String>>,

    /// Scale-up preference of the Ray v2 autoscaler, which reads it from the
    /// RayCluster and prefers higher values; 0 by default. rayop only checks
    /// it: a value other than 0 needs `rayVersion` 2.56.0 or later and the v2
    /// autoscaler (`autoscalerOptions.version: v2`, or
    /// `RAY_enable_autoscaler_v2` 1 or true on the head's Ray container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 0))]
    pub priority: Option<i32>,

    /// rayop: Kubernetes-native autoscaling of this group. rayop creates an
    /// autoscaling/v2 HorizontalPodAutoscaler on the group's workload, bounded
    /// by `minReplicas` (at least 1) and `maxReplicas` (times `numOfHosts`),
    /// and from then on never writes the workload's replicas: the HPA owns
    /// them. Not allowed together with `enableInTreeAutoscaling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler: Option<GroupAutoscaler>,

    /// rayop: the workload that runs the group, `StatefulSet` or `Deployment`.
    /// Defaults to `Deployment` when `enableInTreeAutoscaling` is true (the
    /// autoscaler deletes chosen pods, which a Deployment can do first via
    /// pod-deletion-cost and a StatefulSet cannot), else to `StatefulSet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_kind: Option<WorkloadKind>,

    /// rayop: PersistentVolumeClaims passed through to the StatefulSet's
    /// `volumeClaimTemplates`, so each pod keeps its own volume across
    /// restarts (mount them in the template by name). A StatefulSet's claim
    /// templates cannot change after creation; Deployment groups cannot have
    /// them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::volume_claim_templates")]
    pub volume_claim_templates: Option<Vec<k8s_openapi::api::core::v1::PersistentVolumeClaim>>,
}

/// Which workers to delete on the next scale-down.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStrategy {
    /// Worker pods of this group, by name, that the operator deletes first
    /// when the group shrinks; the Ray autoscaler writes and clears the list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers_to_delete: Vec<String>,
}

/// The Kubernetes workload that runs a worker group.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum WorkloadKind {
    /// Stable pod names `<cluster>-<group>-<ordinal>`; scaling down removes the
    /// highest ordinals.
    StatefulSet,
    /// Pods with generated names; a chosen pod can be removed first by marking
    /// it with `controller.kubernetes.io/pod-deletion-cost`.
    Deployment,
}

impl WorkloadKind {
    /// The kind as the workload's `kind` and an HPA's `scaleTargetRef.kind`
    /// spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Deployment => "Deployment",
        }
    }
}

impl WorkerGroupSpec {
    /// A group with this name and every other field at its default.
    #[must_use]
    pub fn new(group_name: impl Into<String>) -> Self {
        Self {
            group_name: group_name.into(),
            replicas: defaults::replicas(),
            min_replicas: defaults::min_replicas(),
            max_replicas: defaults::max_replicas(),
            num_of_hosts: defaults::num_of_hosts(),
            ray_start_params: BTreeMap::new(),
            template: None,
            scale_strategy: None,
            idle_timeout_seconds: None,
            suspend: None,
            workload_kind: None,
            volume_claim_templates: None,
            horizontal_pod_autoscaler: None,
            labels: None,
            resources: None,
            priority: None,
        }
    }

    /// `replicas` clamped into `[minReplicas, maxReplicas]` (and at least 0),
    /// in replicas, not pods; 0 when the group is suspended. When
    /// `minReplicas > maxReplicas` (an invalid spec) `maxReplicas` wins.
    #[must_use]
    pub fn clamped_replicas(&self) -> i32 {
        if self.suspend == Some(true) {
            return 0;
        }
        let max = self.max_replicas.max(0);
        self.replicas.max(self.min_replicas).min(max).max(0)
    }

    /// The pod names the autoscaler asked to delete.
    #[must_use]
    pub fn workers_to_delete(&self) -> &[String] {
        self.scale_strategy
            .as_ref()
            .map_or(&[], |s| s.workers_to_delete.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamping() {
        let mut group = WorkerGroupSpec::new("g");
        group.min_replicas = 1;
        group.max_replicas = 3;
        group.replicas = 0;
        assert_eq!(group.clamped_replicas(), 1);
        group.replicas = 2;
        assert_eq!(group.clamped_replicas(), 2);
        group.replicas = 9;
        assert_eq!(group.clamped_replicas(), 3);
        group.suspend = Some(true);
        assert_eq!(group.clamped_replicas(), 0);
    }

    #[test]
    fn defaults_match_kuberay() {
        let group: WorkerGroupSpec =
            serde_json::from_value(serde_json::json!({"groupName": "g"})).unwrap();
        assert_eq!(group, WorkerGroupSpec::new("g"));
        assert_eq!(group.replicas, 0);
        assert_eq!(group.min_replicas, 0);
        assert_eq!(group.max_replicas, 2_147_483_647);
        assert_eq!(group.num_of_hosts, 1);
    }
}

/// The HPA of a worker group (`workerGroupSpecs[].horizontalPodAutoscaler`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupAutoscaler {
    /// autoscaling/v2 metrics of the HPA, as in a HorizontalPodAutoscaler's
    /// `spec.metrics`. Default: 80% average CPU utilization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::open_objects")]
    pub metrics: Option<Vec<k8s_openapi::api::autoscaling::v2::MetricSpec>>,

    /// The HPA's `spec.behavior` (scale-up and scale-down policies), passed
    /// through; checked at admission with the API server's HPA ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::hpa_behavior")]
    pub behavior: Option<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior>,
}
