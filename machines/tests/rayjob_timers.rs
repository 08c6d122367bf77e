//! The RayJob machine's timers: the wake-up asked for each deadline, window
//! and TTL, that an early Tick does nothing, that a due timer fires, and that
//! a late observation never overtakes a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod job_support;

use job_support::*;
use rayop_machines::rayjob::{
    Deletion, FailReason, JobCommand, JobInput, JobPhase, JobSpec, RayJobView, RayStatus,
};

fn wakes(commands: &[JobCommand]) -> Vec<u64> {
    commands
        .iter()
        .filter_map(|c| match c {
            JobCommand::WakeAt(at) => Some(at.0),
            _ => None,
        })
        .collect()
}

#[test]
fn active_deadline_wakes_at_start_plus_limit_and_fails_then() {
    let s = JobSpec {
        active_deadline_seconds: Some(120),
        ..spec()
    };
    let mut d = Driver::default();
    let step = d.feed(obs(&s, absent()));
    let start = d.at.0;
    assert_eq!(wakes(&step.commands), vec![start + 120_000]);
    d.feed(obs(&s, ready()));
    d.feed(obs(&s, running(RayStatus::Running)));
    let early = d.feed_at(rayop_machines::Millis(start + 119_999), JobInput::Tick);
    assert_eq!(early.to, JobPhase::Running);
    assert!(early.commands.is_empty(), "{:?}", early.commands);
    let due = d.feed_at(rayop_machines::Millis(start + 120_000), JobInput::Tick);
    assert_eq!(due.to, JobPhase::Failed);
    assert_eq!(d.machine.job().reason, Some(FailReason::DeadlineExceeded));
    assert!(due.commands.contains(&JobCommand::StopJob { attempt: 1 }));
    assert_eq!(d.machine.next_wake(), None);
}

#[test]
fn pre_running_deadline_counts_only_before_running() {
    let s = JobSpec {
        pre_running_deadline_seconds: Some(60),
        active_deadline_seconds: Some(600),
        ..spec()
    };
    let mut d = Driver::default();
    let step = d.feed(obs(&s, absent()));
    let start = d.at.0;
    assert_eq!(wakes(&step.commands), vec![start + 60_000]);
    let step = d.feed(obs(&s, ready()));
    assert_eq!(step.to, JobPhase::Running);
    assert_eq!(wakes(&step.commands), vec![start + 600_000]);
}

#[test]
fn pre_running_deadline_fails_a_slow_start() {
    let s = JobSpec {
        pre_running_deadline_seconds: Some(60),
        ..spec()
    };
    let mut d = Driver::default();
    d.feed(obs(&s, absent()));
    let step = d.feed_after(60_000, obs(&s, not_ready()));
    assert_eq!(step.to, JobPhase::Failed);
    assert_eq!(
        d.machine.job().reason,
        Some(FailReason::PreRunningDeadlineExceeded)
    );
}

#[test]
fn a_late_observation_does_not_overtake_the_deadline() {
    let s = JobSpec {
        active_deadline_seconds: Some(60),
        ..spec()
    };
    let mut d = drive_to(JobPhase::Running, &s);
    let step = d.feed_after(120_000, obs(&s, done(RayStatus::Succeeded)));
    assert_eq!(step.to, JobPhase::Failed);
    assert_eq!(d.machine.job().reason, Some(FailReason::DeadlineExceeded));
}

#[test]
fn unknown_job_state_wakes_after_the_check_window_and_clears() {
    let s = spec();
    let mut d = drive_to(JobPhase::Running, &s);
    let mut w = running(RayStatus::Running);
    w.ray_job = RayJobView::Unreachable;
    let step = d.feed(obs(&s, w.clone()));
    let since = d.at.0;
    assert_eq!(wakes(&step.commands), vec![since + 300_000]);
    // Still unreachable: the window keeps its start.
    let again = d.feed(obs(&s, w));
    assert!(wakes(&again.commands).is_empty());
    assert_eq!(d.machine.next_wake().map(|m| m.0), Some(since + 300_000));
    // Reachable again: no timer.
    d.feed(obs(&s, running(RayStatus::Running)));
    assert_eq!(d.machine.next_wake(), None);
}

#[test]
fn terminal_grace_wakes_and_finishes() {
    let s = spec();
    let mut d = drive_to(JobPhase::Running, &s);
    let step = d.feed(obs(&s, running(RayStatus::Failed)));
    let since = d.at.0;
    assert_eq!(wakes(&step.commands), vec![since + 300_000]);
    let due = d.feed_at(rayop_machines::Millis(since + 300_000), JobInput::Tick);
    assert_eq!(due.to, JobPhase::Failed);
    assert_eq!(
        d.machine.job().reason,
        Some(FailReason::JobDeploymentStatusTransitionGracePeriodExceeded)
    );
}

#[test]
fn ttl_wakes_at_end_plus_ttl_and_deletes_once() {
    let s = JobSpec {
        deletion: Deletion::Shutdown { delete_self: false },
        ttl_seconds: 45,
        ..spec()
    };
    let mut d = drive_to(JobPhase::Running, &s);
    let step = d.feed(obs(&s, done(RayStatus::Succeeded)));
    let end = d.at.0;
    assert_eq!(step.to, JobPhase::Complete);
    assert_eq!(wakes(&step.commands), vec![end + 45_000]);
    let early = d.feed_at(rayop_machines::Millis(end + 44_999), JobInput::Tick);
    assert!(early.commands.is_empty());
    let due = d.feed_at(rayop_machines::Millis(end + 45_000), JobInput::Tick);
    assert!(
        due.commands
            .contains(&JobCommand::DeleteCluster { attempt: 1 })
    );
    assert_eq!(d.machine.next_wake(), None);
    let later = d.feed_after(60_000, JobInput::Tick);
    assert!(later.commands.is_empty());
}

#[test]
fn next_wake_is_later_than_every_event() {
    let s = JobSpec {
        active_deadline_seconds: Some(5),
        pre_running_deadline_seconds: Some(3),
        deletion: Deletion::Shutdown { delete_self: true },
        ttl_seconds: 2,
        backoff_limit: 1,
        ..spec()
    };
    let mut d = Driver::default();
    for world in [
        absent(),
        not_ready(),
        not_ready(),
        not_ready(),
        ready(),
        ready(),
    ] {
        d.feed(obs(&s, world));
        if let Some(w) = d.machine.next_wake() {
            assert!(w > d.at, "wake {w:?} not after {:?}", d.at);
        }
    }
}
