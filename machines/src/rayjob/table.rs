//! The RayJob transition table as data: the source of
//! `machines/RAYJOB_TRANSITIONS.md`; a test walks every row through the real
//! machine and checks the target phase and the command kinds.

use super::{command::JobCommandKind, phase::JobPhase};
pub use crate::table::Target;
use crate::table::{KindEdge, kind_markdown};

/// One row of the table.
pub type JobEdge = KindEdge<JobPhase, JobCommandKind>;

use JobCommandKind::{
    Announce, CreateCluster, CreateSubmitter, DeleteCluster, DeleteSelf, DeleteSubmitter,
    DeleteWorkers, Forget, PublishStatus, StopJob, SubmitHttp, WakeAt,
};
use JobPhase::{
    Complete, Deleted, Failed, Initializing, New, Retrying, Running, Suspended, Suspending,
    ValidationFailed, Waiting,
};
use Target::{Same, To};

/// Every row of the RayJob machine's table.
pub const JOB_TABLE: &[JobEdge] = &[
    JobEdge {
        id: "new-start",
        from: &[New],
        on: "Observed: spec valid",
        to: To(Initializing),
        commands: &[CreateCluster, PublishStatus],
    },
    JobEdge {
        id: "new-start-deadline",
        from: &[New],
        on: "Observed: spec valid, with activeDeadlineSeconds or preRunningDeadlineSeconds",
        to: To(Initializing),
        commands: &[CreateCluster, PublishStatus, WakeAt],
    },
    JobEdge {
        id: "new-invalid",
        from: &[New],
        on: "Observed: spec problems",
        to: To(ValidationFailed),
        commands: &[Announce, PublishStatus],
    },
    JobEdge {
        id: "validation-still",
        from: &[ValidationFailed],
        on: "Observed: a new generation, still invalid",
        to: Same,
        commands: &[Announce],
    },
    JobEdge {
        id: "validation-fixed",
        from: &[ValidationFailed],
        on: "Observed: spec valid again",
        to: To(Initializing),
        commands: &[CreateCluster, PublishStatus],
    },
    JobEdge {
        id: "invalid-during-attempt",
        from: &[Initializing, Running],
        on: "Observed: the spec turned invalid (announced once per generation; the attempt goes on)",
        to: Same,
        commands: &[Announce],
    },
    JobEdge {
        id: "init-create",
        from: &[Initializing],
        on: "Observed: cluster absent",
        to: Same,
        commands: &[CreateCluster],
    },
    JobEdge {
        id: "init-selector-missing",
        from: &[Initializing],
        on: "Observed: clusterSelector names no cluster",
        to: Same,
        commands: &[Announce, PublishStatus],
    },
    JobEdge {
        id: "init-wait",
        from: &[Initializing],
        on: "Observed: cluster not ready",
        to: Same,
        commands: &[],
    },
    JobEdge {
        id: "init-ready-k8s",
        from: &[Initializing],
        on: "Observed: cluster ready, K8sJobMode",
        to: To(Running),
        commands: &[CreateSubmitter, PublishStatus],
    },
    JobEdge {
        id: "init-ready-http",
        from: &[Initializing],
        on: "Observed: cluster ready, HTTPMode",
        to: To(Running),
        commands: &[SubmitHttp, PublishStatus],
    },
    JobEdge {
        id: "init-ready-sidecar",
        from: &[Initializing],
        on: "Observed: cluster ready, SidecarMode",
        to: To(Running),
        commands: &[PublishStatus],
    },
    JobEdge {
        id: "init-ready-interactive",
        from: &[Initializing],
        on: "Observed: cluster ready, InteractiveMode, no spec.jobId",
        to: To(Waiting),
        commands: &[PublishStatus],
    },
    JobEdge {
        id: "waiting-job-id",
        from: &[Waiting],
        on: "Observed: spec.jobId set",
        to: To(Running),
        commands: &[PublishStatus],
    },
    JobEdge {
        id: "suspend",
        from: &[Initializing, Waiting, Running],
        on: "Observed: spec.suspend (cluster present)",
        to: To(Suspending),
        commands: &[DeleteCluster, PublishStatus],
    },
    JobEdge {
        id: "deadline-before-running",
        from: &[Initializing, Waiting],
        on: "Tick: activeDeadlineSeconds passed",
        to: To(Failed),
        commands: &[PublishStatus, Announce],
    },
    JobEdge {
        id: "pre-running-deadline",
        from: &[Initializing, Waiting],
        on: "Tick: preRunningDeadlineSeconds passed, backoffLimit exhausted",
        to: To(Failed),
        commands: &[PublishStatus, Announce],
    },
    JobEdge {
        id: "deadline-running",
        from: &[Running],
        on: "Tick: activeDeadlineSeconds passed",
        to: To(Failed),
        commands: &[StopJob, PublishStatus, Announce],
    },
    JobEdge {
        id: "running-poll",
        from: &[Running],
        on: "Observed: Ray job PENDING/RUNNING",
        to: Same,
        commands: &[PublishStatus],
    },
    JobEdge {
        id: "running-succeeded",
        from: &[Running],
        on: "Observed: Ray job SUCCEEDED/STOPPED, submitter not running",
        to: To(Complete),
        commands: &[PublishStatus, Announce],
    },
    JobEdge {
        id: "running-succeeded-shutdown",
        from: &[Running],
        on: "Observed: Ray job SUCCEEDED, shutdownAfterJobFinishes, ttl 0",
        to: To(Complete),
        commands: &[PublishStatus, Announce, DeleteCluster, Announce],
    },
    JobEdge {
        id: "running-finished-ttl",
        from: &[Running],
        on: "Observed: Ray job SUCCEEDED, a cleanup with ttl > 0",
        to: To(Complete),
        commands: &[PublishStatus, Announce, WakeAt],
    },
    JobEdge {
        id: "running-failed",
        from: &[Running],
        on: "Observed: Ray job FAILED, backoffLimit exhausted",
        to: To(Failed),
        commands: &[PublishStatus, Announce],
    },
    JobEdge {
        id: "running-failed-retry",
        from: &[Running],
        on: "Observed: Ray job FAILED, retries left",
        to: To(Retrying),
        commands: &[DeleteSubmitter, DeleteCluster, PublishStatus, Announce],
    },
    JobEdge {
        id: "running-terminal-submitter-running",
        from: &[Running],
        on: "Observed: Ray job terminal, submitter still running",
        to: Same,
        commands: &[PublishStatus, WakeAt],
    },
    JobEdge {
        id: "terminal-grace",
        from: &[Running],
        on: "Tick: the submitter still runs after the grace (300 s)",
        to: To(Complete),
        commands: &[PublishStatus, Announce],
    },
    JobEdge {
        id: "running-unknown",
        from: &[Running],
        on: "Observed: head unreachable, or a submitted job not found",
        to: Same,
        commands: &[PublishStatus, WakeAt],
    },
    JobEdge {
        id: "unknown-too-long",
        from: &[Running],
        on: "Tick: job state unknown for the check window (300 s)",
        to: To(Failed),
        commands: &[StopJob, PublishStatus, Announce],
    },
    JobEdge {
        id: "submitter-failed",
        from: &[Running],
        on: "Observed: submitter Failed, Ray job never seen",
        to: To(Failed),
        commands: &[StopJob, PublishStatus, Announce],
    },
    JobEdge {
        id: "submitter-done-job-missing",
        from: &[Running],
        on: "Observed: submitter Complete, Ray job not found",
        to: To(Failed),
        commands: &[StopJob, PublishStatus, Announce],
    },
    JobEdge {
        id: "submission-failed",
        from: &[Running],
        on: "CommandFailed: SubmitHttp or CreateSubmitter",
        to: To(Failed),
        commands: &[StopJob, PublishStatus, Announce],
    },
    JobEdge {
        id: "suspending-wait",
        from: &[Suspending],
        on: "Observed: cluster terminating",
        to: Same,
        commands: &[],
    },
    JobEdge {
        id: "suspending-done",
        from: &[Suspending],
        on: "Observed: cluster and submitter gone",
        to: To(Suspended),
        commands: &[PublishStatus],
    },
    JobEdge {
        id: "resume",
        from: &[Suspended],
        on: "Observed: spec.suspend cleared",
        to: To(Initializing),
        commands: &[CreateCluster, PublishStatus],
    },
    JobEdge {
        id: "retrying-wait",
        from: &[Retrying],
        on: "Observed: cluster still present",
        to: Same,
        commands: &[DeleteCluster],
    },
    JobEdge {
        id: "retrying-done",
        from: &[Retrying],
        on: "Observed: cluster and submitter gone",
        to: To(Initializing),
        commands: &[CreateCluster, PublishStatus],
    },
    JobEdge {
        id: "cleanup-due",
        from: &[Complete, Failed],
        on: "Tick: endTime + ttl of shutdownAfterJobFinishes",
        to: Same,
        commands: &[DeleteCluster, Announce],
    },
    JobEdge {
        id: "cleanup-workers",
        from: &[Complete],
        on: "Tick: a DeleteWorkers rule is due, a DeleteSelf rule later",
        to: Same,
        commands: &[DeleteWorkers, Announce, WakeAt],
    },
    JobEdge {
        id: "cleanup-self",
        from: &[Complete],
        on: "Tick: a DeleteSelf rule is due",
        to: Same,
        commands: &[DeleteSelf, Announce],
    },
    JobEdge {
        id: "finished-steady",
        from: &[Complete, Failed],
        on: "Observed: anything",
        to: Same,
        commands: &[],
    },
    JobEdge {
        id: "command-failed",
        from: &[Initializing, Complete, Retrying],
        on: "CommandFailed (not a submission)",
        to: Same,
        commands: &[Announce],
    },
    JobEdge {
        id: "deleted-running",
        from: &[Running, Suspending],
        on: "Deleted: the Ray job was submitted and may still run",
        to: To(Deleted),
        commands: &[StopJob, Forget],
    },
    JobEdge {
        id: "deleted",
        from: &[
            New,
            Initializing,
            Complete,
            Failed,
            ValidationFailed,
            Suspended,
            Retrying,
        ],
        on: "Deleted: nothing may run",
        to: To(Deleted),
        commands: &[Forget],
    },
    JobEdge {
        id: "terminal",
        from: &[Deleted],
        on: "any event",
        to: Same,
        commands: &[],
    },
];

/// The table as Markdown, one row per edge.
#[must_use]
pub fn markdown() -> String {
    kind_markdown(JOB_TABLE)
}
