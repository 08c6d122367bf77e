//! The machine's inputs.
//!
//! Every event carries the moment it happened ([`Event::at`]); the machine uses
//! no other notion of time.

use serde::{Deserialize, Serialize};

use crate::{CommandKind, DesiredSpec, Millis, Observation};

/// One input to a machine, at the moment it was observed. `I` is the
/// machine's input type; a cluster machine's by default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event<I = Input> {
    /// When the input was observed, as chosen by the caller.
    pub at: Millis,
    /// What was observed; the machine's only input besides `at`.
    pub input: I,
}

/// What was observed: the spec and world, a due timer, a failed command, or deletion.
// Nearly every input is `Observed`, one per reconcile, and never stored in
// bulk: boxing it would add an allocation per event and save no memory.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// The spec at its generation, and the live objects, read in one reconcile.
    Observed {
        /// The desired state at `spec.generation`, problems included.
        spec: DesiredSpec,
        /// The live objects as the watch caches held them in the same reconcile.
        world: Observation,
    },
    /// A timer set by an earlier `WakeAt` came due; timers are checked.
    /// (Every other event checks them too, before it is handled.)
    Tick,
    /// A command issued earlier failed against the API server.
    CommandFailed {
        /// The failed command's kind; each failure comes back to the machine once.
        command: CommandKind,
        /// A short CamelCase reason, for example `FailedApplyHead`.
        reason: String,
        /// The error as the API server reported it.
        message: String,
    },
    /// The RayCluster is gone; the machine moves to Deleted and ignores later events.
    Deleted,
    /// The RayCluster has a deletion timestamp and still carries the Redis
    /// cleanup finalizer: what the cleanup waits for, as observed.
    Finalizing(Finalizing),
}

/// A deleted RayCluster held by the Redis cleanup finalizer, as observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finalizing {
    /// The RayCluster's `deletionTimestamp`.
    pub deleted_at: Millis,
    /// How long the cleanup may hold the cluster, from `deleted_at`.
    pub timeout_ms: u64,
    /// Whether the cleanup applies (Redis fault tolerance with the cleanup
    /// enabled); without it the finalizer is just removed.
    pub cleanup: bool,
    /// Workloads (StatefulSets, Deployments) of the cluster still present.
    pub workloads: u32,
    /// Pods of the cluster (head and workers) still present.
    pub pods: u32,
    /// The cleanup Job, when it exists.
    pub job: Option<JobState>,
}

/// The state of the Redis cleanup Job.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Not finished yet.
    Running,
    /// Finished: `Complete`, or `Failed` (a failure target counts).
    Finished {
        /// Whether it failed.
        failed: bool,
    },
}

impl Input {
    /// A short name of the input's kind, used in tables and timelines.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Observed { .. } => "Observed",
            Input::Tick => "Tick",
            Input::CommandFailed { .. } => "CommandFailed",
            Input::Deleted => "Deleted",
            Input::Finalizing(_) => "Finalizing",
        }
    }
}
