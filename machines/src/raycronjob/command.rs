//! What a RayCronJob machine asks the operator to do, as data.
//!
//! Invariants: a child RayJob is named by its tick alone
//! (`<cronjob>-<tick in minutes since the epoch>`), so a repeated
//! `CreateRayJob` meets the RayJob it already created (`AlreadyExists` counts
//! as success). Commands of one step come in a fixed order: create, status,
//! events, timers.

use serde::{Deserialize, Serialize};

use crate::{Millis, Notice};

/// One side effect for the operator to perform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CronCommand {
    /// Create the child RayJob of this tick, if absent.
    CreateRayJob {
        /// The tick, on a whole second (a whole minute for cron patterns).
        tick: Millis,
    },
    /// Write `status.lastScheduleTime`.
    PatchStatus {
        /// The tick of the last RayJob created.
        last_schedule: Millis,
    },
    /// Record a Kubernetes Event on the RayCronJob.
    Announce(Notice),
    /// Deliver a `Tick` no later than this moment.
    WakeAt(Millis),
    /// The RayCronJob is gone: mark its journal stream deleted.
    Forget,
}

/// A command's kind without its data.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CronCommandKind {
    /// [`CronCommand::CreateRayJob`].
    CreateRayJob,
    /// [`CronCommand::PatchStatus`].
    PatchStatus,
    /// [`CronCommand::Announce`].
    Announce,
    /// [`CronCommand::WakeAt`].
    WakeAt,
    /// [`CronCommand::Forget`].
    Forget,
}

impl CronCommand {
    /// The command's kind.
    #[must_use]
    pub fn kind(&self) -> CronCommandKind {
        match self {
            CronCommand::CreateRayJob { .. } => CronCommandKind::CreateRayJob,
            CronCommand::PatchStatus { .. } => CronCommandKind::PatchStatus,
            CronCommand::Announce(_) => CronCommandKind::Announce,
            CronCommand::WakeAt(_) => CronCommandKind::WakeAt,
            CronCommand::Forget => CronCommandKind::Forget,
        }
    }
}

impl CronCommandKind {
    /// The kind's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CronCommandKind::CreateRayJob => "CreateRayJob",
            CronCommandKind::PatchStatus => "PatchStatus",
            CronCommandKind::Announce => "Announce",
            CronCommandKind::WakeAt => "WakeAt",
            CronCommandKind::Forget => "Forget",
        }
    }

    /// Whether carrying it out writes to the API server at once.
    #[must_use]
    pub fn writes_at_once(self) -> bool {
        !matches!(
            self,
            CronCommandKind::PatchStatus | CronCommandKind::WakeAt | CronCommandKind::Forget
        )
    }
}

impl std::fmt::Display for CronCommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
