//! The status the machine wants published, as plain data.
//!
//! The operator maps a [`StatusSummary`] onto the RayCluster's `status` and
//! writes it only when it differs from what is there. The machine emits a new
//! summary only when it differs from the last one it emitted, so a steady
//! cluster produces no status commands at all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Millis, Phase};

/// Condition type: the head pod is Ready.
pub const HEAD_POD_READY: &str = "HeadPodReady";
/// Condition type: all pods became Running and Ready once.
pub const PROVISIONED: &str = "RayClusterProvisioned";
/// Condition type: an object could not be created or updated.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
/// Condition type: the spec is semantically invalid.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// Condition type: the operator changed the spec on its own without refusing
/// it (for example ignored a `restartPolicy`); the message names each field.
/// Present only while there is something to say.
pub const SPEC_ADJUSTED: &str = "SpecAdjusted";
/// Condition type: worker pods exist but cannot run (unschedulable, image
/// pull or crash loop); present only while that is so.
pub const WORKER_POD_FAILURE: &str = "WorkerPodFailure";
/// Condition type: TLS only; whether both leaf certificates are issued for
/// their current spec and their Secrets hold the key material. While False,
/// no Ray workload is created; the message says which certificate waits.
pub const CERTIFICATES_READY: &str = "CertificatesReady";
/// Condition type: the cluster is suspended.
pub const SUSPENDED: &str = "RayClusterSuspended";

/// Everything the machine has to say in `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatusSummary {
    /// The phase to publish as `status.phase`; always the machine's current phase.
    pub phase: Phase,
    /// When each phase was last entered.
    pub phase_times: BTreeMap<Phase, Millis>,
    /// `metadata.generation` of the spec this summary was computed from.
    pub observed_generation: i64,
    /// A short reason for the phase, if any.
    pub reason: Option<String>,
    /// Per worker group counts, in spec order.
    pub groups: Vec<GroupStatus>,
    /// Conditions sorted by type, each type at most once.
    pub conditions: Vec<ConditionSummary>,
}

impl StatusSummary {
    /// Pods desired over all groups (clamped, times `numOfHosts`): `desiredWorkerReplicas`.
    #[must_use]
    pub fn desired_workers(&self) -> i32 {
        self.groups
            .iter()
            .map(|g| g.desired)
            .fold(0, i32::saturating_add)
    }

    /// Running and Ready pods over all groups: `readyWorkerReplicas`.
    #[must_use]
    pub fn ready_workers(&self) -> i32 {
        self.groups
            .iter()
            .map(|g| g.ready)
            .fold(0, i32::saturating_add)
    }

    /// The condition of this type, if present.
    #[must_use]
    pub fn condition(&self, kind: &str) -> Option<&ConditionSummary> {
        self.conditions.iter().find(|c| c.kind == kind)
    }
}

/// One worker group's counts, as published in the group's entry of `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GroupStatus {
    /// The group's `groupName`.
    pub name: String,
    /// Pods the workload should run (after clamping and numOfHosts).
    pub desired: i32,
    /// Pods Running, Ready and not terminating.
    pub ready: i32,
    /// `replicas` as the spec requested it, before clamping into `[min, max]`.
    pub requested: i32,
    /// Whether `requested` lay outside `[minReplicas, maxReplicas]`.
    pub clamped: bool,
    /// Why a scale-down is held back, if it is.
    #[serde(default)]
    pub held: Option<Hold>,
}

/// Why a group's scale-down is held back. Journaled as the text
/// `"<Reason>: <message>"`, as before it was a type, so old journals read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Hold {
    /// The kind of hold; [`HoldReason::as_str`] is the text before `: ` in the journal.
    pub reason: HoldReason,
    /// A sentence for humans, naming the group.
    pub message: String,
}

/// The kinds of [`Hold`]; journaled by name, so a name must never change.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HoldReason {
    /// In-tree autoscaling asked for fewer pods but named none to remove.
    NoRandomScaleDown,
    /// The chosen pods of a Deployment group are being marked first.
    MarkingWorkers,
    /// A StatefulSet group was asked to remove a pod that is not among its
    /// highest ordinals.
    ChosenWorkerNotRemovable,
}

impl HoldReason {
    const ALL: [HoldReason; 3] = [
        HoldReason::NoRandomScaleDown,
        HoldReason::MarkingWorkers,
        HoldReason::ChosenWorkerNotRemovable,
    ];

    /// The CamelCase reason, for Events and `status.reason`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::NoRandomScaleDown => "NoRandomScaleDown",
            HoldReason::MarkingWorkers => "MarkingWorkers",
            HoldReason::ChosenWorkerNotRemovable => "ChosenWorkerNotRemovable",
        }
    }

    /// Whether the user must act: marking is a routine first step.
    #[must_use]
    pub fn needs_user(self) -> bool {
        self != HoldReason::MarkingWorkers
    }
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.message)
    }
}

impl From<Hold> for String {
    fn from(hold: Hold) -> String {
        hold.to_string()
    }
}

impl TryFrom<String> for Hold {
    type Error = String;

    fn try_from(text: String) -> Result<Hold, String> {
        let (reason, message) = text
            .split_once(": ")
            .ok_or_else(|| format!("not a scale-down hold: {text:?}"))?;
        let reason = HoldReason::ALL
            .into_iter()
            .find(|r| r.as_str() == reason)
            .ok_or_else(|| format!("unknown scale-down hold reason {reason:?}"))?;
        Ok(Hold {
            reason,
            message: message.to_owned(),
        })
    }
}

/// One condition, in the Kubernetes API conventions' terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionSummary {
    /// The condition type, one of the constants above (for example [`HEAD_POD_READY`]).
    pub kind: String,
    /// The condition's status: `True` or `False`, never `Unknown`.
    pub status: bool,
    /// A CamelCase reason, KubeRay's where it has one (e.g. `AllPodRunningAndReadyFirstTime`).
    pub reason: String,
    /// A sentence for humans; tools should match `reason`, not this.
    pub message: String,
}
