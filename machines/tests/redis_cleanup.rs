//! The Redis cleanup of a deleted fault-tolerant cluster: the finalizer is
//! added before anything else, the workloads are stopped, the Job runs once
//! no pod is left, and the finalizer goes when the Job has finished or the
//! deadline has passed, with a Warning then. Time comes only from events,
//! so a replay of the same events gives the same commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{
    ClusterMachine, Command, Event, Finalizing, Input, JobState, Millis, Phase, Step,
};
use support::*;

const TIMEOUT_MS: u64 = 300_000;

fn finalizing(at: Millis, f: Finalizing) -> Event {
    Event {
        at,
        input: Input::Finalizing(f),
    }
}

fn held(workloads: u32, pods: u32, job: Option<JobState>) -> Finalizing {
    Finalizing {
        deleted_at: T0,
        timeout_ms: TIMEOUT_MS,
        cleanup: true,
        workloads,
        pods,
        job,
    }
}

fn kinds(step: &Step) -> Vec<String> {
    step.commands
        .iter()
        .map(|c| match c {
            Command::Announce(n) => format!("Announce {}", n.reason),
            Command::WakeAt(at) => format!("WakeAt +{}", at.since(T0)),
            other => other.kind().as_str().to_owned(),
        })
        .collect()
}

#[test]
fn the_finalizer_is_added_before_anything_else() {
    let mut m = ClusterMachine::new();
    let mut s = spec();
    s.redis_cleanup = true;
    let step = m.step(&observed(T0, &s, &applied(&s)));
    assert_eq!(kinds(&step)[0], "AddFinalizer", "{step:?}");
    let mut world = applied(&s);
    world.cleanup_finalizer = true;
    let step = m.step(&observed(T0.plus(1000), &s, &world));
    assert!(
        !kinds(&step).contains(&"AddFinalizer".to_owned()),
        "{step:?}"
    );
    s.redis_cleanup = false;
    let step = m.step(&observed(T0.plus(2000), &s, &applied(&s)));
    assert!(
        !kinds(&step).contains(&"AddFinalizer".to_owned()),
        "{step:?}"
    );
}

#[test]
fn workloads_go_then_the_job_runs_then_the_finalizer_goes() {
    let (mut m, _) = drive_to(Phase::Ready);
    let phase = m.phase();
    let step = m.step(&finalizing(T0.plus(1000), held(2, 3, None)));
    assert_eq!(kinds(&step), ["StopWorkloads", "WakeAt +300000"]);
    // Pods still terminating: nothing new, the deadline is already set.
    let step = m.step(&finalizing(T0.plus(2000), held(0, 1, None)));
    assert!(kinds(&step).is_empty(), "{step:?}");
    let step = m.step(&finalizing(T0.plus(3000), held(0, 0, None)));
    assert_eq!(kinds(&step), ["EnsureCleanupJob"]);
    let step = m.step(&finalizing(
        T0.plus(4000),
        held(0, 0, Some(JobState::Running)),
    ));
    assert!(kinds(&step).is_empty(), "{step:?}");
    let step = m.step(&finalizing(
        T0.plus(5000),
        held(0, 0, Some(JobState::Finished { failed: false })),
    ));
    assert_eq!(
        kinds(&step),
        ["RemoveFinalizer", "Announce RedisCleanupFinished"]
    );
    assert_eq!(m.next_wake(), None, "the deadline is cleared");
    assert_eq!(m.phase(), phase, "finalizing keeps the phase until Deleted");
    // Seen again before the cluster is gone: only the removal, again.
    let step = m.step(&finalizing(T0.plus(6000), held(0, 0, None)));
    assert_eq!(kinds(&step), ["RemoveFinalizer"]);
}

#[test]
fn a_failed_job_also_ends_the_hold() {
    let (mut m, _) = drive_to(Phase::Ready);
    let step = m.step(&finalizing(
        T0.plus(1000),
        held(0, 0, Some(JobState::Finished { failed: true })),
    ));
    assert_eq!(
        kinds(&step),
        ["RemoveFinalizer", "Announce RedisCleanupFailed"]
    );
}

#[test]
fn the_deadline_removes_the_finalizer_with_a_warning() {
    let (mut m, _) = drive_to(Phase::Ready);
    m.step(&finalizing(T0.plus(1000), held(0, 0, None)));
    m.step(&finalizing(
        T0.plus(2000),
        held(0, 0, Some(JobState::Running)),
    ));
    assert_eq!(m.next_wake(), Some(T0.plus(TIMEOUT_MS)));
    let tick = Event {
        at: T0.plus(TIMEOUT_MS),
        input: Input::Tick,
    };
    let step = m.step(&tick);
    assert_eq!(
        kinds(&step),
        ["RemoveFinalizer", "Announce ForceDeletedStuckCluster"]
    );
    assert_eq!(m.next_wake(), None);
    // The Job finishing afterwards announces nothing more.
    let step = m.step(&finalizing(
        T0.plus(TIMEOUT_MS + 1000),
        held(0, 0, Some(JobState::Finished { failed: false })),
    ));
    assert_eq!(kinds(&step), ["RemoveFinalizer"]);
}

#[test]
fn a_cluster_seen_late_is_released_at_once() {
    let (mut m, _) = drive_to(Phase::Scaling);
    let step = m.step(&finalizing(
        T0.plus(TIMEOUT_MS + 1),
        held(1, 2, Some(JobState::Running)),
    ));
    assert_eq!(
        kinds(&step),
        ["RemoveFinalizer", "Announce ForceDeletedStuckCluster"]
    );
}

#[test]
fn without_the_cleanup_the_finalizer_just_goes() {
    let (mut m, _) = drive_to(Phase::Ready);
    let mut f = held(2, 2, None);
    f.cleanup = false;
    let step = m.step(&finalizing(T0.plus(1000), f));
    assert_eq!(kinds(&step), ["RemoveFinalizer"]);
}

#[test]
fn the_flow_replays_identically_and_ends_in_deleted() {
    let events = [
        finalizing(T0.plus(1000), held(2, 3, None)),
        finalizing(T0.plus(3000), held(0, 0, None)),
        finalizing(T0.plus(4000), held(0, 0, Some(JobState::Running))),
        Event {
            at: T0.plus(TIMEOUT_MS),
            input: Input::Tick,
        },
        Event {
            at: T0.plus(TIMEOUT_MS + 10),
            input: Input::Deleted,
        },
    ];
    let run = || {
        let (mut m, _) = drive_to(Phase::Ready);
        let steps: Vec<Step> = events.iter().map(|e| m.step(e)).collect();
        (m, steps)
    };
    let (first, a) = run();
    let (second, b) = run();
    assert_eq!(a, b);
    assert_eq!(first, second);
    assert_eq!(first.phase(), Phase::Deleted);
    let restored: ClusterMachine =
        serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
    assert_eq!(restored, first);
}
