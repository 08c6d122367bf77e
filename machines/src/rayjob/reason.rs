//! Why a RayJob failed (`status.reason`): KubeRay's values plus one of rayop's.

use serde::{Deserialize, Serialize};

/// `status.reason`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailReason {
    /// The job could not be submitted (submitter failed before the job
    /// appeared, a POST failed).
    SubmissionFailed,
    /// `activeDeadlineSeconds` passed. Never retried.
    DeadlineExceeded,
    /// `preRunningDeadlineSeconds` passed before Running.
    PreRunningDeadlineExceeded,
    /// Ray reported `FAILED`.
    AppFailed,
    /// Ray reported a terminal status but the submitter never finished
    /// within the grace window.
    JobDeploymentStatusTransitionGracePeriodExceeded,
    /// The dashboard or head was unreachable for the whole check window.
    /// Never retried.
    JobStatusCheckTimeoutExceeded,
    /// The spec is invalid.
    ValidationFailed,
    /// rayop: the job was submitted in this attempt, then the dashboard
    /// stopped knowing it (head restarted, GCS table lost) for the whole
    /// check window, or the submitter finished without it. Retryable; never
    /// resubmitted within the attempt.
    JobLost,
}

impl FailReason {
    /// Every reason.
    pub const ALL: [FailReason; 8] = [
        FailReason::SubmissionFailed,
        FailReason::DeadlineExceeded,
        FailReason::PreRunningDeadlineExceeded,
        FailReason::AppFailed,
        FailReason::JobDeploymentStatusTransitionGracePeriodExceeded,
        FailReason::JobStatusCheckTimeoutExceeded,
        FailReason::ValidationFailed,
        FailReason::JobLost,
    ];

    /// The value as written in `status.reason`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::SubmissionFailed => "SubmissionFailed",
            FailReason::DeadlineExceeded => "DeadlineExceeded",
            FailReason::PreRunningDeadlineExceeded => "PreRunningDeadlineExceeded",
            FailReason::AppFailed => "AppFailed",
            FailReason::JobDeploymentStatusTransitionGracePeriodExceeded => {
                "JobDeploymentStatusTransitionGracePeriodExceeded"
            }
            FailReason::JobStatusCheckTimeoutExceeded => "JobStatusCheckTimeoutExceeded",
            FailReason::ValidationFailed => "ValidationFailed",
            FailReason::JobLost => "JobLost",
        }
    }

    /// Whether a failure for this reason may be retried under `backoffLimit`.
    #[must_use]
    pub fn retryable(self) -> bool {
        !matches!(
            self,
            FailReason::DeadlineExceeded
                | FailReason::JobStatusCheckTimeoutExceeded
                | FailReason::ValidationFailed
        )
    }
}
