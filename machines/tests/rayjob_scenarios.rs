//! Golden RayJob journals: each scenario's events and steps are stored as
//! JSON under tests/fixtures/rayjob/; the test replays the stored events
//! through a fresh machine and compares every step, and checks the facts the
//! scenario is about. `RAYOP_BLESS=1` rewrites the fixtures from the builders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod job_support;

use job_support::*;
use rayop_machines::rayjob::{
    Deletion, FailReason, JobCommand, JobInput, JobMachine, JobPhase, JobSpec, RayJobView,
    RayStatus, SubmitterView,
};

fn fixture(name: &str, built: &[Line]) -> Vec<Line> {
    let path = format!(
        "{}/tests/fixtures/rayjob/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("RAYOP_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(built).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; bless with RAYOP_BLESS=1"));
    serde_json::from_str(&text).unwrap()
}

/// Replays the stored events through a fresh machine; every step must match.
fn replay(name: &str, built: &[Line]) -> JobMachine {
    let stored = fixture(name, built);
    assert_eq!(
        stored, built,
        "{name}: the builder no longer gives the stored journal"
    );
    let mut machine = JobMachine::new();
    for (i, line) in stored.iter().enumerate() {
        let step = machine.step(&line.event);
        assert_eq!(step, line.step, "{name}: line {i} differs");
    }
    machine
}

fn all_commands(journal: &[Line]) -> Vec<JobCommand> {
    journal
        .iter()
        .flat_map(|l| l.step.commands.iter().cloned())
        .collect()
}

#[test]
fn k8s_job_mode_success_with_shutdown() {
    let s = JobSpec {
        deletion: Deletion::Shutdown { delete_self: false },
        ttl_seconds: 60,
        ..spec()
    };
    let mut d = Driver::default();
    d.feed(obs(&s, absent()));
    d.feed_after(3000, obs(&s, not_ready()));
    d.feed_after(20_000, obs(&s, ready()));
    let mut w = ready();
    w.submitter = SubmitterView::Running;
    d.feed_after(3000, obs(&s, w));
    d.feed_after(3000, obs(&s, running(RayStatus::Pending)));
    d.feed_after(3000, obs(&s, running(RayStatus::Running)));
    d.feed_after(60_000, obs(&s, running(RayStatus::Succeeded)));
    d.feed_after(2000, obs(&s, done(RayStatus::Succeeded)));
    d.feed_after(60_000, JobInput::Tick);
    d.feed_after(1000, JobInput::Deleted);

    let m = replay("k8s-success-shutdown", &d.journal);
    assert_eq!(m.phase(), JobPhase::Deleted);
    assert_eq!(m.job().succeeded, 1);
    let commands = all_commands(&d.journal);
    assert_eq!(
        commands
            .iter()
            .filter(|c| **c == JobCommand::CreateSubmitter { attempt: 1 })
            .count(),
        1
    );
    assert_eq!(
        commands
            .iter()
            .filter(|c| **c == JobCommand::DeleteCluster { attempt: 1 })
            .count(),
        1
    );
}

#[test]
fn a_failing_job_retries_up_to_the_backoff_limit() {
    let s = JobSpec {
        backoff_limit: 2,
        deletion: Deletion::Shutdown { delete_self: false },
        ..spec()
    };
    let mut d = Driver::default();
    for _ in 0..3 {
        d.feed(obs(&s, absent()));
        d.feed_after(10_000, obs(&s, ready()));
        d.feed_after(3000, obs(&s, running(RayStatus::Running)));
        d.feed_after(30_000, obs(&s, done(RayStatus::Failed)));
        if d.machine.phase() == JobPhase::Retrying {
            let mut w = not_ready();
            w.submitter = SubmitterView::Terminating;
            d.feed_after(1000, obs(&s, w));
        }
    }
    let m = replay("failing-with-retries", &d.journal);
    assert_eq!(m.phase(), JobPhase::Failed);
    assert_eq!(m.job().failed, 3);
    assert_eq!(m.job().attempt.number, 3);
    assert_eq!(m.job().reason, Some(FailReason::AppFailed));
    let creates: Vec<_> = all_commands(&d.journal)
        .into_iter()
        .filter(|c| matches!(c, JobCommand::CreateCluster { .. }))
        .collect();
    assert!(creates.contains(&JobCommand::CreateCluster { attempt: 3 }));
    assert!(!creates.contains(&JobCommand::CreateCluster { attempt: 4 }));
}

#[test]
fn active_deadline_stops_the_job() {
    let s = JobSpec {
        active_deadline_seconds: Some(300),
        backoff_limit: 3,
        deletion: Deletion::Shutdown { delete_self: false },
        ..spec()
    };
    let mut d = Driver::default();
    d.feed(obs(&s, absent()));
    d.feed_after(30_000, obs(&s, ready()));
    d.feed_after(3000, obs(&s, running(RayStatus::Running)));
    let wake = d.machine.next_wake().unwrap();
    d.feed_at(wake, JobInput::Tick);
    let mut w = running(RayStatus::Stopped);
    w.ray_job = RayJobView::Found {
        status: RayStatus::Stopped,
        message: "stopped by rayop".into(),
    };
    d.feed_after(3000, obs(&s, w));

    let m = replay("active-deadline-stop", &d.journal);
    assert_eq!(m.phase(), JobPhase::Failed);
    assert_eq!(m.job().reason, Some(FailReason::DeadlineExceeded));
    assert_eq!(m.job().failed, 1, "a deadline is never retried");
    let commands = all_commands(&d.journal);
    assert_eq!(
        commands
            .iter()
            .filter(|c| **c == JobCommand::StopJob { attempt: 1 })
            .count(),
        1
    );
    assert!(commands.contains(&JobCommand::DeleteCluster { attempt: 1 }));
}
