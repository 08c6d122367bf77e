//! Ray's own status of a job, as the dashboard's Jobs API reports it and
//! `status.jobStatus` shows it. A leaf: both the inputs and the commands use it.

use serde::{Deserialize, Serialize};

/// Ray's job status (`jobStatus`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RayStatus {
    /// `PENDING`.
    Pending,
    /// `RUNNING`.
    Running,
    /// `SUCCEEDED`.
    Succeeded,
    /// `FAILED`.
    Failed,
    /// `STOPPED`.
    Stopped,
}

impl RayStatus {
    /// Every status.
    pub const ALL: [RayStatus; 5] = [
        RayStatus::Pending,
        RayStatus::Running,
        RayStatus::Succeeded,
        RayStatus::Failed,
        RayStatus::Stopped,
    ];

    /// Whether Ray considers the job finished.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RayStatus::Succeeded | RayStatus::Failed | RayStatus::Stopped
        )
    }

    /// The value as in `status.jobStatus`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RayStatus::Pending => "PENDING",
            RayStatus::Running => "RUNNING",
            RayStatus::Succeeded => "SUCCEEDED",
            RayStatus::Failed => "FAILED",
            RayStatus::Stopped => "STOPPED",
        }
    }
}
