//! The pure, deterministic, journaled state machine of one RayJob.
//!
//! Each RayJob has one [`JobMachine`]. The operator summarizes the spec and
//! the world of one reconcile as [`JobInput::Observed`] (plus `Tick`,
//! `CommandFailed`, `Deleted`); the machine answers with a [`crate::Step`] of
//! [`JobPhase`]s and [`JobCommand`]s, as data. It implements [`crate::Machine`].
//!
//! Invariants (those of the crate): no I/O and no clock, time only in events;
//! deterministic (the same snapshot fed the same events gives byte-identical
//! state and commands); serde all the way; level-triggered where a command is
//! idempotent (creates and deletes by deterministic name), remembered where it
//! is not (a submission).
//!
//! Names: every object-touching command carries the attempt number (from 1).
//! The operator derives the RayCluster name, the submitter Job name and the
//! Ray job id from the RayJob and that number, so a retry gets new ones, and
//! observes the world for the current attempt's names only.
//!
//! # Decisions where KubeRay v1.7 misbehaves
//!
//! | KubeRay | rayop |
//! |---|---|
//! | HTTPMode resubmits on every 404, a silent rerun that ignores `backoffLimit` (#4824) | A job is submitted at most once per attempt: [`machine::Attempt::submitted`] is set when the submission is issued (SubmitHttp, CreateSubmitter, the sidecar, the user's `jobId`) and never cleared within the attempt; journaled, so a restart does not resubmit either. A 404 after that is "lost", never "not yet submitted". |
//! | Head OOM/eviction wipes the GCS job table and the RayJob stays Running forever (#3860, #3903) | While Running, an unreachable head/dashboard or a submitted job the dashboard no longer knows starts a check window ([`windows::CHECK_WINDOW_MS`], 300 s); when it runs out the attempt fails with `JobStatusCheckTimeoutExceeded` (unreachable, not retried, as KubeRay) or `JobLost` (lost; retryable). A job the dashboard reported and then, answering, no longer knows was lost with the head's GCS (a head restart without fault tolerance): the attempt fails at once with `JobLost`, as does a K8sJobMode submitter that completed without the job. InteractiveMode counts the user's `spec.jobId` as the submission, so an id the dashboard does not know fails after the window too (KubeRay polls forever). |
//! | The 30 s submitter-finished rule force-fails a still-RUNNING job when the log follower drops (#4921) | The dashboard decides: a submitter that finished (or failed) while Ray reports the job PENDING/RUNNING changes nothing. A failed submitter fails the attempt only when the job never appeared (`SubmissionFailed`). Ray terminal while the submitter still runs: wait for it up to the grace window ([`windows::TERMINAL_GRACE_MS`]), then finish. |
//! | Retries | `failed` counts every failed attempt; a retry happens only when `failed ≤ backoffLimit` after counting and the reason is retryable (not `DeadlineExceeded`, `JobStatusCheckTimeoutExceeded`, `ValidationFailed`), so retries never exceed `backoffLimit`. |
//! | Deadlines are polled every 3 s | `activeDeadlineSeconds` (from the attempt's `startTime`; Initializing, Waiting, Running) and `preRunningDeadlineSeconds` (Initializing, Waiting) are timers: the machine emits `WakeAt`, and a due timer fires before the event that finds it due, so a late observation never overtakes a deadline. |
//! | Failure paths leave the Ray job running (#2314) | Failing an attempt whose job was submitted and not known terminal emits `StopJob` once (also on deletion). |
//! | TTL cleanup re-evaluated against the live cluster every reconcile | The cleanup is a plan from the spec ([`cleanup::plan`]); each policy is applied once when `endTime + ttl` comes (a timer), the strongest due one first, weaker ones it subsumes are marked done; `clusterSelector` jobs plan nothing. A cluster that reappears is not deleted again. |
//! | `ValidationFailed` is a dead end (#3980) | It is entered only from New (before anything exists); a later valid generation starts the first attempt. A spec that turns invalid during an attempt is announced once per generation and the attempt goes on with the last valid spec. |
//! | Waiting ignores `suspend` | Waiting honours `suspend` like Initializing and Running. |
//!
//! New → Initializing happens in the first observation; Retrying and a
//! resumed Suspended go straight to Initializing of the next attempt once
//! the previous attempt's objects are gone (KubeRay passes through New).
//! `Deleted` is the machine's own terminal state, never published.
//!
//! # Transition table
//!
#![doc = include_str!("../../RAYJOB_TRANSITIONS.md")]

pub mod cleanup;
mod command;
mod driver;
mod input;
pub mod machine;
mod phase;
mod ray_status;
mod reason;
pub mod table;
pub mod timers;
pub mod windows;

pub use command::{JobCommand, JobCommandKind, JobStatusSummary};
pub use driver::JobMachine;
pub use input::{
    ClusterView, Deletion, DeletionRule, JobInput, JobSpec, JobWorld, Policy, RayJobView,
    RuleCondition, SubmissionMode, SubmitterView,
};
pub use machine::JobEvent;
pub use phase::JobPhase;
pub use ray_status::RayStatus;
pub use reason::FailReason;
