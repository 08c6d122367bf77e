//! What a RayJob machine is fed: one observation per reconcile (a summary of
//! the spec and of the world), a due timer, a failed command, or deletion.
//!
//! Invariant: the world is observed for the *current attempt's* names (the
//! cluster and submitter the machine asked for with that attempt number), so
//! a leftover of an earlier attempt never looks like the current one.

use serde::{Deserialize, Serialize};

use super::{
    command::{JobCommandKind, JobStatusSummary},
    ray_status::RayStatus,
};

/// One input to a RayJob machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobInput {
    /// The spec and the world, read in one reconcile.
    Observed {
        /// The spec, summarized.
        spec: JobSpec,
        /// The live objects and the dashboard's answer.
        world: JobWorld,
    },
    /// A timer set by an earlier `WakeAt` came due.
    Tick,
    /// A command issued earlier failed.
    CommandFailed {
        /// The failed command's kind.
        command: JobCommandKind,
        /// A short CamelCase reason.
        reason: String,
        /// The error as reported.
        message: String,
    },
    /// The RayJob is being deleted (or is gone).
    Deleted,
}

/// How the job is submitted (`spec.submissionMode`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SubmissionMode {
    /// A Kubernetes Job runs `ray job submit` and follows the logs.
    #[default]
    K8sJobMode,
    /// The operator POSTs the job to the dashboard.
    HTTPMode,
    /// The user submits; the RayJob waits for `spec.jobId`.
    InteractiveMode,
    /// A container in the head pod submits.
    SidecarMode,
}

/// A deletion policy (`deletionStrategy`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Policy {
    /// Nothing.
    DeleteNone,
    /// Suspend every worker group; the head stays.
    DeleteWorkers,
    /// Delete the RayCluster.
    DeleteCluster,
    /// Delete the RayJob itself (its children follow by ownership).
    DeleteSelf,
}

/// What a deletion rule matches.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleCondition {
    /// `condition.jobStatus: SUCCEEDED`.
    JobSucceeded,
    /// `condition.jobStatus: FAILED`.
    JobFailed,
    /// `condition.jobDeploymentStatus: Failed`.
    DeploymentFailed,
}

/// One `deletionRules` entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRule {
    /// What to do.
    pub policy: Policy,
    /// When it applies.
    pub condition: RuleCondition,
    /// Delay from `endTime`, in seconds.
    pub ttl_seconds: u32,
}

/// The cleanup after Complete/Failed, as the spec and the operator's
/// settings say (precedence of KubeRay's §3.8 already resolved by the caller,
/// except for `clusterSelector`, which the machine applies itself).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Deletion {
    /// Nothing is deleted.
    #[default]
    Keep,
    /// `shutdownAfterJobFinishes`: after `ttlSecondsAfterFinished`, delete
    /// the cluster, or the RayJob when the operator is set to
    /// (`DELETE_RAYJOB_CR_AFTER_JOB_FINISHES`).
    Shutdown {
        /// Delete the RayJob instead of the cluster.
        delete_self: bool,
    },
    /// Legacy `onSuccess`/`onFailure`, after `ttlSecondsAfterFinished`.
    Legacy {
        /// Applied when the Ray job SUCCEEDED.
        on_success: Policy,
        /// Applied when the Ray job FAILED.
        on_failure: Policy,
    },
    /// `deletionRules`.
    Rules(Vec<DeletionRule>),
}

/// The spec of one RayJob, summarized for the machine.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobSpec {
    /// `metadata.generation`.
    pub generation: i64,
    /// `spec.submissionMode`.
    pub mode: SubmissionMode,
    /// `spec.ttlSecondsAfterFinished`.
    pub ttl_seconds: u32,
    /// `spec.activeDeadlineSeconds`.
    pub active_deadline_seconds: Option<u32>,
    /// `spec.preRunningDeadlineSeconds`.
    pub pre_running_deadline_seconds: Option<u32>,
    /// `spec.backoffLimit`: retries of the whole RayJob.
    pub backoff_limit: u32,
    /// `spec.suspend`.
    pub suspend: bool,
    /// The cleanup after the job ends.
    pub deletion: Deletion,
    /// `spec.clusterSelector` is used: the cluster is not the RayJob's own.
    pub cluster_selector: bool,
    /// InteractiveMode: `spec.jobId` is set (the user has submitted).
    pub user_job_id: bool,
    /// Validation failures, empty when the spec is valid.
    pub problems: Vec<String>,
}

/// The RayCluster of the current attempt.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ClusterView {
    /// No such cluster.
    #[default]
    Absent,
    /// It exists and is not ready.
    NotReady,
    /// It exists and its state is `ready`.
    Ready,
    /// It has a deletion timestamp.
    Terminating,
}

/// The submitter Kubernetes Job of the current attempt (K8sJobMode), or the
/// sidecar container (SidecarMode).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SubmitterView {
    /// No such Job.
    #[default]
    Absent,
    /// Exists and has not finished.
    Running,
    /// Condition `Complete=True`.
    Complete,
    /// Condition `Failed=True`.
    Failed {
        /// The condition's reason.
        reason: String,
    },
    /// It has a deletion timestamp.
    Terminating,
}

/// What the dashboard said about the current attempt's job id.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RayJobView {
    /// Not asked (no dashboard yet).
    #[default]
    Unknown,
    /// 404: the dashboard does not know the id.
    NotFound,
    /// The request failed (timeout, connection refused, bad body).
    Unreachable,
    /// The job's status and message.
    Found {
        /// Ray's status.
        status: RayStatus,
        /// Ray's message.
        message: String,
    },
}

/// The world of one RayJob, as read in one reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobWorld {
    /// The current attempt's RayCluster.
    pub cluster: ClusterView,
    /// The current attempt's submitter.
    pub submitter: SubmitterView,
    /// The dashboard's answer about the job.
    pub ray_job: RayJobView,
    /// Whether the head (its pod and dashboard) is reachable; `false`
    /// counts like an unreachable dashboard.
    pub head_reachable: bool,
    /// What the RayJob's stored status says, given only to a machine that
    /// remembers nothing (a new, emptied or lost journal), so that it goes
    /// on from there instead of starting the job over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<JobStatusSummary>,
}
