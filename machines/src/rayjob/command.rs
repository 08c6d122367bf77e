//! What a RayJob machine asks the operator to do, as data.
//!
//! Invariants: every command names the attempt it belongs to, from which the
//! operator derives the cluster name, submitter name and Ray job id
//! deterministically, so a retry never reuses an earlier attempt's names and a
//! repeated command is idempotent. Commands of one step come in a fixed order:
//! stop, deletes, creates, submission, status, events, timers.

use serde::{Deserialize, Serialize};

use super::{phase::JobPhase, ray_status::RayStatus, reason::FailReason};
use crate::{Millis, Notice};

/// One side effect for the operator to perform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobCommand {
    /// Create the attempt's RayCluster, if absent.
    CreateCluster {
        /// The attempt, from 1.
        attempt: u32,
    },
    /// Create the attempt's submitter Kubernetes Job, if absent.
    CreateSubmitter {
        /// The attempt.
        attempt: u32,
    },
    /// POST the attempt's job to the dashboard (HTTPMode). Emitted at most
    /// once per attempt.
    SubmitHttp {
        /// The attempt.
        attempt: u32,
    },
    /// Ask the dashboard to stop the attempt's job.
    StopJob {
        /// The attempt.
        attempt: u32,
    },
    /// Delete the attempt's submitter Job (background propagation).
    DeleteSubmitter {
        /// The attempt.
        attempt: u32,
    },
    /// Delete the attempt's RayCluster.
    DeleteCluster {
        /// The attempt.
        attempt: u32,
    },
    /// Suspend every worker group of the attempt's RayCluster.
    DeleteWorkers {
        /// The attempt.
        attempt: u32,
    },
    /// Delete the RayJob itself.
    DeleteSelf,
    /// Write this summary into `status`, if it differs.
    PublishStatus(JobStatusSummary),
    /// Record a Kubernetes Event on the RayJob.
    Announce(Notice),
    /// Deliver a `Tick` no later than this moment.
    WakeAt(Millis),
    /// The RayJob is gone: mark its journal stream deleted.
    Forget,
}

/// A command's kind without its data.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobCommandKind {
    /// [`JobCommand::CreateCluster`].
    CreateCluster,
    /// [`JobCommand::CreateSubmitter`].
    CreateSubmitter,
    /// [`JobCommand::SubmitHttp`].
    SubmitHttp,
    /// [`JobCommand::StopJob`].
    StopJob,
    /// [`JobCommand::DeleteSubmitter`].
    DeleteSubmitter,
    /// [`JobCommand::DeleteCluster`].
    DeleteCluster,
    /// [`JobCommand::DeleteWorkers`].
    DeleteWorkers,
    /// [`JobCommand::DeleteSelf`].
    DeleteSelf,
    /// [`JobCommand::PublishStatus`].
    PublishStatus,
    /// [`JobCommand::Announce`].
    Announce,
    /// [`JobCommand::WakeAt`].
    WakeAt,
    /// [`JobCommand::Forget`].
    Forget,
}

impl JobCommand {
    /// The command's kind.
    #[must_use]
    pub fn kind(&self) -> JobCommandKind {
        match self {
            JobCommand::CreateCluster { .. } => JobCommandKind::CreateCluster,
            JobCommand::CreateSubmitter { .. } => JobCommandKind::CreateSubmitter,
            JobCommand::SubmitHttp { .. } => JobCommandKind::SubmitHttp,
            JobCommand::StopJob { .. } => JobCommandKind::StopJob,
            JobCommand::DeleteSubmitter { .. } => JobCommandKind::DeleteSubmitter,
            JobCommand::DeleteCluster { .. } => JobCommandKind::DeleteCluster,
            JobCommand::DeleteWorkers { .. } => JobCommandKind::DeleteWorkers,
            JobCommand::DeleteSelf => JobCommandKind::DeleteSelf,
            JobCommand::PublishStatus(_) => JobCommandKind::PublishStatus,
            JobCommand::Announce(_) => JobCommandKind::Announce,
            JobCommand::WakeAt(_) => JobCommandKind::WakeAt,
            JobCommand::Forget => JobCommandKind::Forget,
        }
    }
}

impl JobCommandKind {
    /// The kind's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            JobCommandKind::CreateCluster => "CreateCluster",
            JobCommandKind::CreateSubmitter => "CreateSubmitter",
            JobCommandKind::SubmitHttp => "SubmitHttp",
            JobCommandKind::StopJob => "StopJob",
            JobCommandKind::DeleteSubmitter => "DeleteSubmitter",
            JobCommandKind::DeleteCluster => "DeleteCluster",
            JobCommandKind::DeleteWorkers => "DeleteWorkers",
            JobCommandKind::DeleteSelf => "DeleteSelf",
            JobCommandKind::PublishStatus => "PublishStatus",
            JobCommandKind::Announce => "Announce",
            JobCommandKind::WakeAt => "WakeAt",
            JobCommandKind::Forget => "Forget",
        }
    }

    /// Whether carrying it out writes to the API server (or the dashboard) at once.
    #[must_use]
    pub fn writes_at_once(self) -> bool {
        !matches!(
            self,
            JobCommandKind::PublishStatus | JobCommandKind::WakeAt | JobCommandKind::Forget
        )
    }
}

impl std::fmt::Display for JobCommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `status` should say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatusSummary {
    /// `jobDeploymentStatus`.
    pub deployment: JobPhase,
    /// `jobStatus`, `None` for `""`.
    pub job_status: Option<RayStatus>,
    /// `reason`, when failed.
    pub reason: Option<FailReason>,
    /// `message`.
    pub message: String,
    /// The current attempt, from 1 (0 before the first).
    pub attempt: u32,
    /// `succeeded`.
    pub succeeded: u32,
    /// `failed`.
    pub failed: u32,
    /// `startTime`: when the current attempt began.
    pub start_time: Option<Millis>,
    /// `endTime`: when the job reached Complete or Failed.
    pub end_time: Option<Millis>,
}
