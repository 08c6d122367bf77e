//! The machine's timers, all derived from storage: deadlines from the
//! attempt's start, the check window of an unknown job, the grace of a
//! finished job whose submitter still runs, and the cleanup plan.
//!
//! Invariant: `next_wake` is a pure function of state and storage, so a
//! restored machine asks for the same wake-up as the one it was taken from.

use super::{
    cleanup,
    machine::Job,
    phase::JobPhase,
    windows::{CHECK_WINDOW_MS, TERMINAL_GRACE_MS},
};
use crate::Millis;

/// The earliest timer of `job` in `phase`.
#[must_use]
pub fn next_wake(job: &Job, phase: JobPhase) -> Option<Millis> {
    let started = job.attempt.started;
    let seconds = |s: u32| started.plus(u64::from(s) * 1000);
    let mut wakes = Vec::new();
    match phase {
        JobPhase::Initializing | JobPhase::Waiting | JobPhase::Running => {
            wakes.extend(job.spec.active_deadline_seconds.map(seconds));
            if phase != JobPhase::Running {
                wakes.extend(job.spec.pre_running_deadline_seconds.map(seconds));
            }
            if phase == JobPhase::Running {
                wakes.extend(job.unknown_since.map(|(s, _)| s.plus(CHECK_WINDOW_MS)));
                wakes.extend(job.terminal_since.map(|s| s.plus(TERMINAL_GRACE_MS)));
            }
        }
        JobPhase::Complete | JobPhase::Failed => {
            if let Some(end) = job.end_time {
                let plan = cleanup::plan(&job.spec, phase, job.job_status, end);
                wakes.extend(cleanup::next(&plan, &job.cleaned));
            }
        }
        _ => {}
    }
    wakes.into_iter().min()
}
