//! Builders shared by the RayJob machine's tests: specs, worlds, and a
//! driver that feeds events one second apart and keeps the journal.
#![allow(dead_code)]

use rayop_machines::{
    Millis, Step,
    rayjob::{
        ClusterView, JobCommand, JobCommandKind, JobEvent, JobInput, JobMachine, JobPhase, JobSpec,
        JobStatusSummary, JobWorld, RayJobView, RayStatus, SubmissionMode, SubmitterView,
    },
};
use serde::{Deserialize, Serialize};

/// A valid K8sJobMode spec without deadlines, retries or cleanup.
pub fn spec() -> JobSpec {
    JobSpec {
        generation: 1,
        ..JobSpec::default()
    }
}

/// `spec()` in another mode.
pub fn spec_in(mode: SubmissionMode) -> JobSpec {
    JobSpec { mode, ..spec() }
}

/// Nothing exists yet.
pub fn absent() -> JobWorld {
    JobWorld::default()
}

/// The cluster exists, not ready.
pub fn not_ready() -> JobWorld {
    JobWorld {
        cluster: ClusterView::NotReady,
        ..JobWorld::default()
    }
}

/// The cluster is ready; no submitter, the dashboard does not know the job.
pub fn ready() -> JobWorld {
    JobWorld {
        cluster: ClusterView::Ready,
        submitter: SubmitterView::Absent,
        ray_job: RayJobView::NotFound,
        head_reachable: true,
        published: None,
    }
}

/// The job is known to the dashboard with `status`; the submitter runs.
pub fn running(status: RayStatus) -> JobWorld {
    JobWorld {
        cluster: ClusterView::Ready,
        submitter: SubmitterView::Running,
        ray_job: RayJobView::Found {
            status,
            message: String::new(),
        },
        head_reachable: true,
        published: None,
    }
}

/// The job is known with `status`; the submitter completed.
pub fn done(status: RayStatus) -> JobWorld {
    JobWorld {
        submitter: SubmitterView::Complete,
        ..running(status)
    }
}

/// A stored status of `phase` in attempt `attempt`, as a machine with no
/// memory is given it: started at 1 s, ended at 2 s when finished.
pub fn published(phase: JobPhase, attempt: u32) -> JobStatusSummary {
    let finished = matches!(phase, JobPhase::Complete | JobPhase::Failed);
    JobStatusSummary {
        deployment: phase,
        job_status: matches!(phase, JobPhase::Running | JobPhase::Complete).then_some(
            if finished {
                RayStatus::Succeeded
            } else {
                RayStatus::Running
            },
        ),
        reason: None,
        message: String::new(),
        attempt,
        succeeded: u32::from(phase == JobPhase::Complete),
        failed: attempt - 1,
        start_time: Some(Millis(1_000)),
        end_time: finished.then_some(Millis(2_000)),
    }
}

/// An observation.
pub fn obs(spec: &JobSpec, world: JobWorld) -> JobInput {
    JobInput::Observed {
        spec: spec.clone(),
        world,
    }
}

/// One journal line: the event and what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The event.
    pub event: JobEvent,
    /// The step.
    pub step: Step<JobPhase, JobCommand>,
}

/// Feeds a machine and keeps the journal.
#[derive(Clone, Debug)]
pub struct Driver {
    pub machine: JobMachine,
    pub at: Millis,
    pub journal: Vec<Line>,
}

impl Default for Driver {
    fn default() -> Self {
        Driver {
            machine: JobMachine::new(),
            at: Millis(1_000_000),
            journal: Vec::new(),
        }
    }
}

impl Driver {
    /// Feeds `input` one second after the previous event.
    pub fn feed(&mut self, input: JobInput) -> Step<JobPhase, JobCommand> {
        self.feed_after(1000, input)
    }

    /// Feeds `input` `ms` after the previous event.
    pub fn feed_after(&mut self, ms: u64, input: JobInput) -> Step<JobPhase, JobCommand> {
        self.at = self.at.plus(ms);
        self.feed_at(self.at, input)
    }

    /// Feeds `input` at `at`.
    pub fn feed_at(&mut self, at: Millis, input: JobInput) -> Step<JobPhase, JobCommand> {
        self.at = at;
        let event = JobEvent { at, input };
        let step = self.machine.step(&event);
        self.journal.push(Line {
            event,
            step: step.clone(),
        });
        step
    }

    /// The event that would come next (one second later).
    pub fn next(&self, input: JobInput) -> JobEvent {
        JobEvent {
            at: self.at.plus(1000),
            input,
        }
    }
}

/// A driver in `phase` under `spec` (adjusted where the phase needs it).
pub fn drive_to(phase: JobPhase, spec: &JobSpec) -> Driver {
    let mut d = Driver::default();
    match phase {
        JobPhase::New => {}
        JobPhase::Initializing => {
            d.feed(obs(spec, absent()));
        }
        JobPhase::Waiting => {
            let s = JobSpec {
                mode: SubmissionMode::InteractiveMode,
                user_job_id: false,
                ..spec.clone()
            };
            d.feed(obs(&s, absent()));
            d.feed(obs(&s, ready()));
        }
        JobPhase::Running => {
            d.feed(obs(spec, absent()));
            d.feed(obs(spec, ready()));
        }
        JobPhase::Complete => {
            d = drive_to(JobPhase::Running, spec);
            d.feed(obs(spec, done(RayStatus::Succeeded)));
        }
        JobPhase::Failed => {
            let s = JobSpec {
                backoff_limit: 0,
                ..spec.clone()
            };
            d = drive_to(JobPhase::Running, &s);
            d.feed(obs(&s, done(RayStatus::Failed)));
        }
        JobPhase::Retrying => {
            let s = JobSpec {
                backoff_limit: spec.backoff_limit.max(1),
                ..spec.clone()
            };
            d = drive_to(JobPhase::Running, &s);
            d.feed(obs(&s, done(RayStatus::Failed)));
        }
        JobPhase::Suspending => {
            d = drive_to(JobPhase::Running, spec);
            let s = JobSpec {
                suspend: true,
                ..spec.clone()
            };
            d.feed(obs(&s, ready()));
        }
        JobPhase::Suspended => {
            d = drive_to(JobPhase::Suspending, spec);
            let s = JobSpec {
                suspend: true,
                ..spec.clone()
            };
            d.feed(obs(&s, absent()));
        }
        JobPhase::ValidationFailed => {
            let s = JobSpec {
                problems: vec!["entrypoint is empty".into()],
                ..spec.clone()
            };
            d.feed(obs(&s, absent()));
        }
        JobPhase::Deleted => {
            d.feed(JobInput::Deleted);
        }
    }
    assert_eq!(d.machine.phase(), phase, "could not drive to {phase}");
    d
}

/// The kinds of a step's commands.
pub fn kinds(step: &Step<JobPhase, JobCommand>) -> Vec<JobCommandKind> {
    step.commands.iter().map(JobCommand::kind).collect()
}
