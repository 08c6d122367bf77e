//! What the operator saw of the live objects, as plain data.
//!
//! Built by the operator's observe step from its watch caches. Every field is a
//! fact, never a decision: whether something must change is decided by the
//! machine, by comparing an [`Observation`] with a [`crate::DesiredSpec`].

use serde::{Deserialize, Serialize};

use crate::Millis;

/// The live state of one cluster's objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Observation {
    /// The head's objects and pod; each part is `None` while missing.
    pub head: HeadObservation,
    /// Every worker group that exists in the spec or live, sorted by name.
    pub groups: Vec<GroupObservation>,
    /// Whether the RayCluster carries the Redis cleanup finalizer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cleanup_finalizer: bool,
    /// The cert-manager objects of a TLS-enabled cluster; `None` with TLS off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pki: Option<PkiObservation>,
}

/// What the caches say of a TLS-enabled cluster's cert-manager objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PkiObservation {
    /// The PKI set as applied, when all its objects exist.
    pub applied: Option<Applied>,
    /// Why Ray pods must still wait (a leaf Certificate not Ready for its
    /// current spec, or its Secret without `tls.crt`, `tls.key`, `ca.crt`);
    /// `None` once both leaf certificates are usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// When each issued Certificate (the CA and both leaves) expires, by
    /// name: cert-manager's `status.notAfter`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub not_after: std::collections::BTreeMap<String, crate::Millis>,
}

/// The applied state of a set of objects (workload, Service, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The spec hash all of the set's objects carry, or `"mixed"` when they differ.
    pub hash: String,
    /// `spec.replicas` of the workload as the cache holds it; an HPA may have changed it.
    pub replicas: i32,
    /// Fields rayop sets that another writer has changed by hand; empty when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<DriftedField>,
}

/// A field rayop sets on one of its objects that another writer changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DriftedField {
    /// The object's kind, as in `kind:`.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The field, as `spec.template.spec.containers[name=ray-head].image`.
    pub field: String,
    /// The field manager that changed it (`kubectl-set`, `kubectl-edit`, …).
    pub manager: String,
}

impl std::fmt::Display for DriftedField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} (changed by {})",
            self.kind, self.name, self.field, self.manager
        )
    }
}

impl Applied {
    /// Objects carrying `hash`, at `replicas`, with no field changed by hand.
    #[must_use]
    pub fn new(hash: impl Into<String>, replicas: i32) -> Applied {
        Applied {
            hash: hash.into(),
            replicas,
            drifted: Vec::new(),
        }
    }
}

/// The head's live state: its objects (StatefulSet, Service, …) and its pod `<cluster>-head-0`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HeadObservation {
    /// The head objects, or `None` when any of them is missing.
    pub applied: Option<Applied>,
    /// The head pod, when one exists.
    pub pod: Option<PodView>,
    /// Why the workload controller could not create the head pod, when the
    /// pod is missing and the controller said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_create: Option<Box<FailedCreate>>,
}

/// One worker group's live state; a group only live (removed from the spec) is listed too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GroupObservation {
    /// The group name, from the `ray.io/group` label.
    pub name: String,
    /// The group objects, or `None` when any of them is missing.
    pub applied: Option<Applied>,
    /// Whether the workload controller reports its rollout complete
    /// (updated replicas equal desired, current revision equals update revision).
    pub rolled_out: bool,
    /// The group's pods sorted by name, terminating and finished ones included.
    pub pods: Vec<PodView>,
    /// Why the workload controller could not create the group's pods, when
    /// some are missing and the controller said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_create: Option<Box<FailedCreate>>,
}

/// A workload controller's report that it could not create a pod: a
/// `FailedCreate` Warning Event on a StatefulSet, or a Deployment's
/// `ReplicaFailure` condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedCreate {
    /// The object that reported it, as `Kind name` (e.g. `StatefulSet c-head`).
    pub reporter: String,
    /// The controller's message, which quotes the API server; bounded in length.
    pub message: String,
}

/// What keeps a pod from running, as the scheduler or the kubelet reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodProblem {
    /// The reporter's CamelCase reason: `Unschedulable`, or a container's
    /// waiting reason such as `ImagePullBackOff` or `CrashLoopBackOff`.
    pub reason: String,
    /// The scheduler's or kubelet's message, bounded in length; may be empty.
    pub message: String,
    /// The container it concerns; `None` for a scheduling problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The container's position in the pod template's `containers`, when the
    /// template written in the RayCluster has it (an injected sidecar has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_index: Option<u32>,
}

/// The phase of a pod, as in `status.phase`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PodPhase {
    /// Accepted, but not all containers started; includes waiting to be scheduled.
    #[default]
    Pending,
    /// Bound to a node with at least one container running; Ready is a separate fact.
    Running,
    /// All containers exited successfully; the pod will not run again.
    Succeeded,
    /// All containers exited, at least one failed.
    Failed,
    /// The phase could not be read.
    Unknown,
}

/// The facts about one pod the machine decides on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PodView {
    /// `metadata.name`; a recreated pod may reuse it, so decisions also check `uid`.
    pub name: String,
    /// `metadata.uid`: a pod recreated under the same name has a new one.
    pub uid: String,
    /// `status.phase`; [`PodPhase::Unknown`] when absent or unrecognised.
    pub phase: PodPhase,
    /// Whether the pod's Ready condition is True.
    pub ready: bool,
    /// Container restarts summed over the pod's containers.
    pub restarts: i32,
    /// `metadata.creationTimestamp`, in the same epoch milliseconds as [`crate::Event::at`].
    pub created: Millis,
    /// Whether `metadata.deletionTimestamp` is set: the pod is going and no longer serves.
    pub terminating: bool,
    /// Whether the pod carries rayop's lowest `pod-deletion-cost`, so a
    /// ReplicaSet removes it first.
    #[serde(default)]
    pub marked: bool,
    /// Whether the pod runs an older template than its workload's current
    /// one, and the workload will not replace it on its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outdated: bool,
    /// What keeps the pod from running, if the scheduler or kubelet reports something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Box<PodProblem>>,
}

impl PodView {
    /// Whether the pod has ended and will not run again (Failed or Succeeded).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, PodPhase::Failed | PodPhase::Succeeded)
    }

    /// Whether the pod is Running, Ready and not being deleted.
    #[must_use]
    pub fn is_serving(&self) -> bool {
        self.phase == PodPhase::Running && self.ready && !self.terminating
    }

    /// A reference to this pod for a precondition-guarded delete.
    #[must_use]
    pub fn to_ref(&self) -> PodRef {
        PodRef {
            name: self.name.clone(),
            uid: self.uid.clone(),
        }
    }
}

/// A pod named together with its UID, so that a delete only ever removes the
/// incarnation that was observed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PodRef {
    /// `metadata.name`, as sent in the delete's path.
    pub name: String,
    /// `metadata.uid`, sent as the delete's precondition so a newer pod of that name survives.
    pub uid: String,
}
