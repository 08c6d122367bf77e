//! The phases of a RayCronJob machine. KubeRay's RayCronJob has no phase in
//! its status; these show in the journal, logs and metrics only.

use serde::{Deserialize, Serialize};

/// Where a RayCronJob's machine is.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum CronPhase {
    /// Nothing observed yet.
    #[default]
    New,
    /// Waiting for the next tick, creating a RayJob at each.
    Scheduling,
    /// `spec.suspend`: no RayJob is created.
    Suspended,
    /// The spec, schedule or zone is invalid: no RayJob is created.
    Invalid,
    /// The RayCronJob is gone; terminal, every later event is ignored.
    Deleted,
}

impl CronPhase {
    /// Every phase, Deleted last.
    pub const ALL: [CronPhase; 5] = [
        CronPhase::New,
        CronPhase::Scheduling,
        CronPhase::Suspended,
        CronPhase::Invalid,
        CronPhase::Deleted,
    ];

    /// The phase's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CronPhase::New => "New",
            CronPhase::Scheduling => "Scheduling",
            CronPhase::Suspended => "Suspended",
            CronPhase::Invalid => "Invalid",
            CronPhase::Deleted => "Deleted",
        }
    }
}

impl std::fmt::Display for CronPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
