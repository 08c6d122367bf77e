//! The desired state of one RayCluster, reduced to what the machine decides on.
//!
//! The operator derives a [`DesiredSpec`] from the RayCluster object in the same
//! reconcile as the observation. Templates are reduced to hashes of the desired
//! objects, so a template change is visible as a changed hash and the machine
//! never needs Kubernetes types.

use serde::{Deserialize, Serialize};

/// One problem that makes a spec invalid, naming the field to fix. The one
/// type for it: validation produces it, the machine decides on it, the
/// journal records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecProblem {
    /// JSON path of the offending field, for example `spec.workerGroupSpecs[0].minReplicas`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl SpecProblem {
    /// A problem of `field` (a JSON path such as `spec.headGroupSpec`) with a fix-it `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for SpecProblem {}

/// The spec at one generation, reduced to what the machine decides on; rebuilt every reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DesiredSpec {
    /// `metadata.generation` of the RayCluster this was read from.
    pub generation: i64,
    /// Semantic problems found by validation; non-empty means the spec is invalid.
    pub problems: Vec<SpecProblem>,
    /// What the operator changes in the spec on its own, each naming the
    /// field (e.g. an ignored `restartPolicy`): the non-blocking
    /// [`SPEC_ADJUSTED`](crate::status::SPEC_ADJUSTED) condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<SpecProblem>,
    /// `spec.suspend`: when true every workload is held at zero and the phase is Suspended.
    pub suspend: bool,
    /// Whether GCS fault tolerance (external Redis) is configured; then workers
    /// survive a head restart and are not restarted.
    pub gcs_fault_tolerance: bool,
    /// Whether the Redis cleanup finalizer belongs on the cluster: Redis
    /// fault tolerance, with the operator's cleanup enabled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redis_cleanup: bool,
    /// Hash of the desired head objects (replicas excluded).
    pub head_hash: String,
    /// The worker groups, in spec order.
    pub groups: Vec<GroupSpec>,
    /// How long a head may stay not Ready before the `HeadNotReady` Warning,
    /// in milliseconds; `None` is [`crate::backoff::STUCK_AFTER_MS`]. An
    /// operator setting, carried in the event so replay decides alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_stuck_after_ms: Option<u64>,
    /// The hash of the cert-manager objects of a TLS-enabled cluster;
    /// `None` with TLS off. While set, no workload is created before the
    /// observation says both leaf certificates are usable
    /// ([`PkiObservation`](crate::PkiObservation)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pki_hash: Option<String>,
}

/// One worker group's desired state; `replicas` is used only after clamping into `[min, max]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GroupSpec {
    /// `groupName`, unique within the cluster; the group's objects and `ray.io/group` label use it.
    pub name: String,
    /// `replicas` as the user (or the Ray autoscaler) wrote it.
    pub replicas: i32,
    /// `minReplicas`: the floor `replicas` is clamped to; a negative value counts as 0.
    pub min: i32,
    /// `maxReplicas`: the ceiling `replicas` is clamped to; below `min` it counts as `min`.
    pub max: i32,
    /// `numOfHosts`: pods per replica (multi-host groups, e.g. TPU slices); below 1 counts as 1.
    pub num_of_hosts: i32,
    /// The group's own `suspend`: only this group is held at zero pods; the phase is unaffected.
    pub suspend: bool,
    /// Hash of the desired group objects (replicas excluded).
    pub hash: String,
    /// An HPA owns the workload's replicas: rayop never writes them.
    #[serde(default)]
    pub external_replicas: bool,
    /// In-tree autoscaling is on: a scale-down never removes a pod at random,
    /// only the pods in `workers_to_delete`.
    #[serde(default)]
    pub autoscaled: bool,
    /// Pods the Ray autoscaler asked to remove (`scaleStrategy.workersToDelete`).
    #[serde(default)]
    pub workers_to_delete: Vec<String>,
    /// How the group's workload can remove a chosen pod.
    #[serde(default)]
    pub removal: Removal,
    /// `upgradeStrategy: Recreate` on a workload that does not replace its
    /// pods itself: once the group's objects are in sync, every pod still
    /// on an older template is deleted at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace_outdated: bool,
}

/// How a worker group's workload can remove a chosen pod on scale-down.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Removal {
    /// A StatefulSet: scaling down removes the highest ordinals, nothing else.
    #[default]
    HighestOrdinals,
    /// A Deployment: a pod marked with the lowest `pod-deletion-cost` is
    /// removed first when replicas are lowered.
    MarkedFirst,
}

impl GroupSpec {
    /// `replicas` clamped into `[min, max]` (a bad range clamps to `min`).
    #[must_use]
    pub fn clamped_replicas(&self) -> i32 {
        let min = self.min.max(0);
        let max = self.max.max(min);
        self.replicas.clamp(min, max)
    }

    /// Whether the requested count lies outside `[min, max]`.
    #[must_use]
    pub fn is_clamped(&self) -> bool {
        self.clamped_replicas() != self.replicas
    }

    /// Pods the group's workload should run, `clamped × numOfHosts`, or zero
    /// when the group or the whole cluster is suspended.
    #[must_use]
    pub fn desired_pods(&self, cluster_suspended: bool) -> i32 {
        if cluster_suspended || self.suspend {
            return 0;
        }
        self.clamped_replicas()
            .saturating_mul(self.num_of_hosts.max(1))
    }
}
