//! The observed state of a RayCluster: `status`.
//!
//! Role: KubeRay's status fields with their JSON names (`state` keeps
//! KubeRay's lower-case values), plus rayop's `phase`, the state of the
//! cluster's state machine, and `phaseTransitionTimes`, when each phase was
//! last entered.
//!
//! Invariants:
//! - `conditions` follow the Kubernetes API conventions: one entry per `type`
//!   (the schema declares a list-map keyed by `type`), with status, reason,
//!   message, observedGeneration and lastTransitionTime.
//! - `phaseTransitionTimes` has one key per phase ever entered, spelled as in
//!   `phase`; [`RayClusterStatus::set_phase`] keeps it and `phase` in step.
//! - `stateTransitionTimes` does the same for `state`, spelled as in `state`.
//! - `desiredCPU`, `desiredMemory`, `desiredGPU` and `desiredTPU` are
//!   canonical quantity strings, `0` when nothing asks for the resource.
//!
//! `Phase` has the five phases of the design plus `Suspended` and `Deleted`,
//! because the state machine (crate `rayop-machines`) reports those two and the
//! API server refuses a status whose `phase` is outside the enum.

use std::collections::BTreeMap;

use k8s_openapi::{
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{Condition, Time},
    },
    jiff::Timestamp,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type: the head pod is Running and Ready.
pub const CONDITION_HEAD_POD_READY: &str = "HeadPodReady";
/// Condition type: all pods were Running and Ready once; stays True afterwards.
pub const CONDITION_PROVISIONED: &str = "RayClusterProvisioned";
/// Condition type: creating a pod or workload failed; see the reason.
pub const CONDITION_REPLICA_FAILURE: &str = "ReplicaFailure";
/// Condition type: `suspend` is set and pods are being deleted.
pub const CONDITION_SUSPENDING: &str = "RayClusterSuspending";
/// Condition type: `suspend` is set and no pod is left.
pub const CONDITION_SUSPENDED: &str = "RayClusterSuspended";
/// Condition type: the spec breaks a rule the schema cannot express; the
/// message lists the problems with their field paths.
pub const CONDITION_INVALID_SPEC: &str = "InvalidSpec";
/// Condition type: rayop changed the spec on its own without refusing it
/// (an ignored `restartPolicy`, an unset `maxReplicas` capped at the group
/// limit); the message names each field. Present only while it applies.
pub const CONDITION_SPEC_ADJUSTED: &str = rayop_machines::status::SPEC_ADJUSTED;
/// Every condition type rayop sets.
pub const CONDITION_TYPES: [&str; 7] = [
    CONDITION_HEAD_POD_READY,
    CONDITION_PROVISIONED,
    CONDITION_REPLICA_FAILURE,
    CONDITION_SUSPENDING,
    CONDITION_SUSPENDED,
    CONDITION_INVALID_SPEC,
    CONDITION_SPEC_ADJUSTED,
];
/// ReplicaFailure reason: the head could not be created.
pub const REASON_FAILED_CREATE_HEAD_POD: &str = "FailedCreateHeadPod";
/// ReplicaFailure reason: a worker could not be created.
pub const REASON_FAILED_CREATE_WORKER_POD: &str = "FailedCreateWorkerPod";

/// What rayop observed of a RayCluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RayClusterStatus {
    /// KubeRay's coarse state: `ready` once every pod has been Running and
    /// Ready, `suspended` when `suspend` is set and all pods are gone. rayop
    /// never writes the deprecated `failed`: `reason` and the conditions say
    /// why a cluster is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ClusterState>,

    /// Why the cluster is in its state, when that is not obvious.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// Worker pods that are Running and Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_worker_replicas: Option<i32>,

    /// Worker pods in phase Running, Ready or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_worker_replicas: Option<i32>,

    /// Sum over groups of (clamped) replicas times numOfHosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_worker_replicas: Option<i32>,

    /// Sum over groups of minReplicas times numOfHosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_worker_replicas: Option<i32>,

    /// Sum over groups of maxReplicas times numOfHosts; an unset maxReplicas
    /// counts as the 10000 pods a group may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_worker_replicas: Option<i32>,

    /// CPU requested by the head pod and every desired worker pod (per
    /// container its requests, else its limits): the head plus pod ×
    /// `replicas` × `numOfHosts` for each group that is not suspended.
    #[serde(
        rename = "desiredCPU",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub desired_cpu: Option<Quantity>,

    /// Memory requested by all desired pods, summed as `desiredCPU`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_memory: Option<Quantity>,

    /// GPUs requested by all desired pods, summed as `desiredCPU`: every
    /// resource whose name ends in `gpu` or is a MIG slice
    /// (`nvidia.com/mig-1g.5gb`).
    #[serde(
        rename = "desiredGPU",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub desired_gpu: Option<Quantity>,

    /// TPUs (`google.com/tpu`) requested by all desired pods, summed as
    /// `desiredCPU`.
    #[serde(
        rename = "desiredTPU",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub desired_tpu: Option<Quantity>,

    /// Ports of the head Service by name, such as `dashboard: "8265"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, String>,

    /// The head pod and Service, by name and IP, for clients looking for the
    /// head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadInfo>,

    /// Conditions, one per type: HeadPodReady, RayClusterProvisioned,
    /// ReplicaFailure, RayClusterSuspending, RayClusterSuspended, InvalidSpec,
    /// SpecAdjusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["type"],
    ))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// When the status last changed in something other than a timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,

    /// When `state` last took each value, keyed by the state (`ready`,
    /// `suspended`); a key is written whenever `state` changes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub state_transition_times: BTreeMap<String, Time>,

    /// rayop's phase: the state of the cluster's state machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// When each phase was last entered, keyed by the phase's name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phase_transition_times: BTreeMap<String, Time>,
}

/// KubeRay's cluster states, lower case as KubeRay writes them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    /// All pods are Running and Ready.
    Ready,
    /// `suspend` is set and all pods are gone.
    Suspended,
    /// Deprecated, as in KubeRay v1.7: never written, still read so a
    /// status written by an older operator parses.
    Failed,
}

impl ClusterState {
    /// The state as spelled in `status.state` and as a key of
    /// `stateTransitionTimes`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::Ready => "ready",
            ClusterState::Suspended => "suspended",
            ClusterState::Failed => "failed",
        }
    }
}

/// rayop's phases, the states of the cluster's state machine.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum Phase {
    /// Nothing created yet, or the spec is invalid (see the InvalidSpec condition).
    Pending,
    /// The head workload exists and its pod is not Ready yet.
    HeadStarting,
    /// The head is Ready; worker groups or templates are converging.
    Scaling,
    /// The head and every worker group are at their desired state.
    Ready,
    /// A head that was Ready was lost and is being brought back.
    Recovering,
    /// `suspend` holds every workload at zero.
    Suspended,
    /// The RayCluster is being deleted.
    Deleted,
}

impl Phase {
    /// The phase as spelled in `status.phase` and as a key of
    /// `phaseTransitionTimes`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::HeadStarting => "HeadStarting",
            Phase::Scaling => "Scaling",
            Phase::Ready => "Ready",
            Phase::Recovering => "Recovering",
            Phase::Suspended => "Suspended",
            Phase::Deleted => "Deleted",
        }
    }
}

/// Identity and addresses of the head.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadInfo {
    /// IP of the head pod; unset until the pod has one.
    #[serde(rename = "podIP", default, skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    /// Cluster IP of the head Service; unset while it has none or is headless.
    #[serde(rename = "serviceIP", default, skip_serializing_if = "Option::is_none")]
    pub service_ip: Option<String>,
    /// Name of the head pod, `<cluster>-head-0`; unset while there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// Name of the head Service, `<cluster>-head-svc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

/// Worker counts in pods, summed over groups as KubeRay reports them;
/// [`WorkerCounts::of`] (in [`effective`](crate::crd::effective)) derives them
/// from a spec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerCounts {
    /// Sum of clamped replicas times numOfHosts (0 for suspended groups).
    pub desired: i32,
    /// Sum of minReplicas times numOfHosts.
    pub min: i32,
    /// Sum of maxReplicas times numOfHosts, an unset maxReplicas capped at
    /// the group limit.
    pub max: i32,
}

impl RayClusterStatus {
    /// Sets `phase`, recording `now` as its transition time when it changes.
    /// Returns whether it changed.
    pub fn set_phase(&mut self, phase: Phase, now: Timestamp) -> bool {
        if self.phase == Some(phase) {
            return false;
        }
        self.phase = Some(phase);
        self.phase_transition_times
            .insert(phase.as_str().to_owned(), Time(now));
        true
    }

    /// When `phase` was last entered, per `phaseTransitionTimes`; `None` if
    /// never.
    #[must_use]
    pub fn phase_entered_at(&self, phase: Phase) -> Option<Timestamp> {
        self.phase_transition_times
            .get(phase.as_str())
            .map(|time| time.0)
    }

    /// The condition of type `type_`, if set.
    #[must_use]
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Sets a condition, keeping its lastTransitionTime when its status did
    /// not change (Kubernetes API conventions). Returns whether anything changed.
    pub fn set_condition(&mut self, condition: Condition) -> bool {
        match self
            .conditions
            .iter_mut()
            .find(|c| c.type_ == condition.type_)
        {
            None => {
                self.conditions.push(condition);
                true
            }
            Some(existing) => {
                let transition = if existing.status == condition.status {
                    existing.last_transition_time.clone()
                } else {
                    condition.last_transition_time.clone()
                };
                let updated = Condition {
                    last_transition_time: transition,
                    ..condition
                };
                let changed = *existing != updated;
                *existing = updated;
                changed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn condition(status: &str, reason: &str, time: i64) -> Condition {
        Condition {
            type_: CONDITION_HEAD_POD_READY.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: Time(at(time)),
        }
    }

    #[test]
    fn set_phase_records_transition_times() {
        let mut status = RayClusterStatus::default();
        assert!(status.set_phase(Phase::Pending, at(10)));
        assert!(!status.set_phase(Phase::Pending, at(20)));
        assert!(status.set_phase(Phase::HeadStarting, at(30)));
        assert_eq!(status.phase, Some(Phase::HeadStarting));
        assert_eq!(status.phase_entered_at(Phase::Pending), Some(at(10)));
        assert_eq!(status.phase_entered_at(Phase::HeadStarting), Some(at(30)));
        assert_eq!(status.phase_entered_at(Phase::Ready), None);
    }

    #[test]
    fn set_condition_keeps_transition_time_when_status_is_unchanged() {
        let mut status = RayClusterStatus::default();
        assert!(status.set_condition(condition("False", "Starting", 1)));
        assert!(status.set_condition(condition("False", "Pulling", 2)));
        let kept = status.condition(CONDITION_HEAD_POD_READY).unwrap();
        assert_eq!(kept.last_transition_time, Time(at(1)));
        assert_eq!(kept.reason, "Pulling");
        assert!(!status.set_condition(condition("False", "Pulling", 3)));
        assert!(status.set_condition(condition("True", "Ready", 4)));
        let flipped = status.condition(CONDITION_HEAD_POD_READY).unwrap();
        assert_eq!(flipped.last_transition_time, Time(at(4)));
        assert_eq!(status.conditions.len(), 1);
    }

    #[test]
    fn state_and_phase_spelling() {
        for state in [
            ClusterState::Ready,
            ClusterState::Suspended,
            ClusterState::Failed,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        assert_eq!(
            serde_json::to_value(Phase::HeadStarting).unwrap(),
            serde_json::json!(Phase::HeadStarting.as_str())
        );
        let head = HeadInfo {
            pod_ip: Some("10.0.0.1".into()),
            ..HeadInfo::default()
        };
        assert_eq!(
            serde_json::to_value(head).unwrap(),
            serde_json::json!({"podIP": "10.0.0.1"})
        );
    }
}
