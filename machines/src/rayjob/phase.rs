//! The phases of a RayJob: KubeRay v1.7's `jobDeploymentStatus` values, plus
//! `Deleted`, the machine's terminal state after the RayJob is gone (never
//! published).

use serde::{Deserialize, Serialize};

/// `status.jobDeploymentStatus`.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum JobPhase {
    /// `""`: nothing done yet.
    #[default]
    New,
    /// The attempt's cluster is being created and becoming ready.
    Initializing,
    /// InteractiveMode: waiting for the user to set `spec.jobId`.
    Waiting,
    /// The job is submitted (or being submitted) and polled.
    Running,
    /// The job ended with Ray `SUCCEEDED` or `STOPPED`.
    Complete,
    /// The job failed and will not be retried.
    Failed,
    /// The spec is invalid.
    ValidationFailed,
    /// `spec.suspend`: tearing the attempt down.
    Suspending,
    /// `spec.suspend`: nothing runs.
    Suspended,
    /// A failed attempt is torn down before the next.
    Retrying,
    /// The RayJob is gone; terminal, every later event is ignored.
    Deleted,
}

impl JobPhase {
    /// Every phase, Deleted last.
    pub const ALL: [JobPhase; 11] = [
        JobPhase::New,
        JobPhase::Initializing,
        JobPhase::Waiting,
        JobPhase::Running,
        JobPhase::Complete,
        JobPhase::Failed,
        JobPhase::ValidationFailed,
        JobPhase::Suspending,
        JobPhase::Suspended,
        JobPhase::Retrying,
        JobPhase::Deleted,
    ];

    /// The phase's name (`New` for KubeRay's `""`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::New => "New",
            JobPhase::Initializing => "Initializing",
            JobPhase::Waiting => "Waiting",
            JobPhase::Running => "Running",
            JobPhase::Complete => "Complete",
            JobPhase::Failed => "Failed",
            JobPhase::ValidationFailed => "ValidationFailed",
            JobPhase::Suspending => "Suspending",
            JobPhase::Suspended => "Suspended",
            JobPhase::Retrying => "Retrying",
            JobPhase::Deleted => "Deleted",
        }
    }

    /// The value written in `status.jobDeploymentStatus`.
    #[must_use]
    pub fn deployment_status(self) -> &'static str {
        match self {
            JobPhase::New => "",
            other => other.as_str(),
        }
    }

    /// Complete or Failed.
    #[must_use]
    pub fn is_finished(self) -> bool {
        matches!(self, JobPhase::Complete | JobPhase::Failed)
    }
}

impl std::fmt::Display for JobPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
