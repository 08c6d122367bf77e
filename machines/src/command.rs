//! The machine's outputs: side effects expressed as data.
//!
//! Invariants:
//! - Every command is declarative and idempotent: applying it twice leaves the
//!   world as applying it once. `Ensure*` name a target state, never a delta;
//!   `DeletePods` names each pod with its UID, so a second delete finds nothing.
//! - Commands of one step come in a fixed order: PKI, head, groups in spec order,
//!   removals, pod deletions, status, events, timers. The same step therefore
//!   always yields the same list.

use serde::{Deserialize, Serialize};

use crate::{Millis, PodRef, status::StatusSummary};

/// One side effect for the operator to perform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Apply the cert-manager objects of a TLS-enabled cluster (Issuers,
    /// Certificates), before any workload that needs their Secrets.
    EnsurePki,
    /// Apply the head objects (StatefulSet, Service, RBAC when autoscaling) at `replicas` (0 or 1).
    EnsureHead {
        /// 1, or 0 while suspended.
        replicas: i32,
    },
    /// Apply a worker group's objects with its workload at `replicas` pods;
    /// `None` leaves replicas to their owner (an HPA) and never writes them.
    EnsureGroup {
        /// The group name.
        group: String,
        /// Pods the workload should run, or `None` when an HPA decides.
        replicas: Option<i32>,
    },
    /// Mark these pods with the lowest `pod-deletion-cost`, each only if its
    /// UID still matches, so the ReplicaSet removes them first.
    MarkPods {
        /// The group name.
        group: String,
        /// The pods, sorted.
        pods: Vec<PodRef>,
    },
    /// Delete the objects of a group that is no longer in the spec.
    RemoveGroup {
        /// The group name.
        group: String,
    },
    /// Delete these pods, each only if its UID still matches.
    DeletePods {
        /// Why, for the Event and the log.
        reason: DeleteReason,
        /// The pods, sorted.
        pods: Vec<PodRef>,
    },
    /// Write this summary into `status`, if it differs from what is there.
    PublishStatus(StatusSummary),
    /// Record a Kubernetes Event on the RayCluster.
    Announce(Notice),
    /// Deliver a `Tick` no later than this moment: the machine's earliest
    /// timer expires then. Emitted whenever that moment changes; a later
    /// `WakeAt` replaces an earlier one.
    WakeAt(Millis),
    /// The cluster is gone: mark its journal stream deleted.
    Forget,
    /// Add the Redis cleanup finalizer to the RayCluster; before any other
    /// command of the step.
    AddFinalizer,
    /// A deleted cluster: delete its workloads (StatefulSets, Deployments),
    /// so its pods go before the Redis cleanup runs.
    StopWorkloads,
    /// A deleted cluster without pods: create the Redis cleanup Job, if absent.
    EnsureCleanupJob,
    /// Remove the Redis cleanup finalizer, if present, so the deletion ends.
    RemoveFinalizer,
}

impl Command {
    /// The command's kind, for metrics, tables, results and timelines.
    #[must_use]
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::EnsurePki => CommandKind::EnsurePki,
            Command::EnsureHead { .. } => CommandKind::EnsureHead,
            Command::EnsureGroup { .. } => CommandKind::EnsureGroup,
            Command::RemoveGroup { .. } => CommandKind::RemoveGroup,
            Command::MarkPods { .. } => CommandKind::MarkPods,
            Command::DeletePods { .. } => CommandKind::DeletePods,
            Command::PublishStatus(_) => CommandKind::PublishStatus,
            Command::Announce(_) => CommandKind::Announce,
            Command::WakeAt(_) => CommandKind::WakeAt,
            Command::Forget => CommandKind::Forget,
            Command::AddFinalizer => CommandKind::AddFinalizer,
            Command::StopWorkloads => CommandKind::StopWorkloads,
            Command::EnsureCleanupJob => CommandKind::EnsureCleanupJob,
            Command::RemoveFinalizer => CommandKind::RemoveFinalizer,
        }
    }
}

/// The kind of a [`Command`] without its data. Serialized as the variant name
/// (`"EnsureHead"`), the same text journals recorded before this type existed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CommandKind {
    /// [`Command::EnsurePki`].
    EnsurePki,
    /// [`Command::EnsureHead`].
    EnsureHead,
    /// [`Command::EnsureGroup`].
    EnsureGroup,
    /// [`Command::RemoveGroup`].
    RemoveGroup,
    /// [`Command::MarkPods`].
    MarkPods,
    /// [`Command::DeletePods`].
    DeletePods,
    /// [`Command::PublishStatus`].
    PublishStatus,
    /// [`Command::Announce`].
    Announce,
    /// [`Command::WakeAt`].
    WakeAt,
    /// [`Command::Forget`].
    Forget,
    /// [`Command::AddFinalizer`].
    AddFinalizer,
    /// [`Command::StopWorkloads`].
    StopWorkloads,
    /// [`Command::EnsureCleanupJob`].
    EnsureCleanupJob,
    /// [`Command::RemoveFinalizer`].
    RemoveFinalizer,
}

impl CommandKind {
    /// The variant name, as journals and metrics spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::EnsurePki => "EnsurePki",
            CommandKind::EnsureHead => "EnsureHead",
            CommandKind::EnsureGroup => "EnsureGroup",
            CommandKind::RemoveGroup => "RemoveGroup",
            CommandKind::MarkPods => "MarkPods",
            CommandKind::DeletePods => "DeletePods",
            CommandKind::PublishStatus => "PublishStatus",
            CommandKind::Announce => "Announce",
            CommandKind::WakeAt => "WakeAt",
            CommandKind::Forget => "Forget",
            CommandKind::AddFinalizer => "AddFinalizer",
            CommandKind::StopWorkloads => "StopWorkloads",
            CommandKind::EnsureCleanupJob => "EnsureCleanupJob",
            CommandKind::RemoveFinalizer => "RemoveFinalizer",
        }
    }

    /// Whether carrying it out writes to the API server at once. Status is
    /// written by the status step (paced), wake-ups and forgetting touch only
    /// the operator's own state, so their results are not journaled alone.
    #[must_use]
    pub fn writes_at_once(self) -> bool {
        !matches!(
            self,
            CommandKind::PublishStatus | CommandKind::WakeAt | CommandKind::Forget
        )
    }
}

impl std::fmt::Display for CommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why pods are deleted.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeleteReason {
    /// The head pod ended (Failed or Succeeded) and must be recreated.
    HeadPodFinished,
    /// A worker pod ended (Failed or Succeeded) and must be recreated.
    WorkerPodFinished,
    /// `upgradeStrategy: Recreate`: these pods run an older template and are
    /// replaced together.
    TemplateChanged,
    /// The head restarted without GCS fault tolerance: these workers belong to
    /// the lost head and cannot rejoin.
    HeadRestarted,
    /// Named in `scaleStrategy.workersToDelete` while the group's count does
    /// not go down: deleted, and replaced by the workload.
    NamedForRemoval,
}

/// A Kubernetes Event to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Normal or Warning.
    pub severity: Severity,
    /// A short CamelCase reason.
    pub reason: String,
    /// A sentence for humans.
    pub message: String,
    /// The object the Event is about besides the cluster (the Event's
    /// `related`), so notices about different objects are never folded
    /// into one Event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<ObjectName>,
}

/// An object of the cluster's namespace, by kind and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectName {
    /// The kind, as in `kind:`.
    pub kind: String,
    /// The name.
    pub name: String,
}

/// The type of a Kubernetes Event.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// Progress.
    Normal,
    /// Something the user should look at.
    Warning,
}

impl Notice {
    pub(crate) fn normal(reason: &str, message: String) -> Command {
        Command::Announce(Notice {
            severity: Severity::Normal,
            reason: reason.to_owned(),
            message,
            related: None,
        })
    }

    pub(crate) fn warning(reason: &str, message: String) -> Command {
        Command::Announce(Notice {
            severity: Severity::Warning,
            reason: reason.to_owned(),
            message,
            related: None,
        })
    }
}
