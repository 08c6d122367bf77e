//! The phases of a RayService machine. KubeRay has no phase field (only
//! conditions); these show in the journal, logs and metrics, and decide the
//! conditions the status summary carries. `Deleted` is never published.

use serde::{Deserialize, Serialize};

/// Where a RayService's machine is.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum ServicePhase {
    /// Nothing observed yet.
    #[default]
    New,
    /// The first cluster is created and its Serve applications deploy; no
    /// cluster has taken traffic yet.
    WaitForServeDeploymentReady,
    /// One active cluster serves; no pending cluster.
    Running,
    /// A pending cluster is prepared and traffic moves to it.
    Upgrading,
    /// The spec went back to the active cluster's: traffic returns to it and
    /// the pending cluster goes.
    RollingBack,
    /// `spec.suspend`: every owned object is being deleted.
    Suspending,
    /// Nothing runs.
    Suspended,
    /// The spec is invalid: nothing changes until a valid generation.
    Invalid,
    /// The RayService is gone; terminal, every later event is ignored.
    Deleted,
}

impl ServicePhase {
    /// Every phase, Deleted last.
    pub const ALL: [ServicePhase; 9] = [
        ServicePhase::New,
        ServicePhase::WaitForServeDeploymentReady,
        ServicePhase::Running,
        ServicePhase::Upgrading,
        ServicePhase::RollingBack,
        ServicePhase::Suspending,
        ServicePhase::Suspended,
        ServicePhase::Invalid,
        ServicePhase::Deleted,
    ];

    /// The phase's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServicePhase::New => "New",
            ServicePhase::WaitForServeDeploymentReady => "WaitForServeDeploymentReady",
            ServicePhase::Running => "Running",
            ServicePhase::Upgrading => "Upgrading",
            ServicePhase::RollingBack => "RollingBack",
            ServicePhase::Suspending => "Suspending",
            ServicePhase::Suspended => "Suspended",
            ServicePhase::Invalid => "Invalid",
            ServicePhase::Deleted => "Deleted",
        }
    }
}

impl std::fmt::Display for ServicePhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
