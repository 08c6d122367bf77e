//! Every timer of the machine, in every phase: what `next_wake` reports, that
//! the `WakeAt` commands say the same, and that a due timer fires and leaves
//! `next_wake` in the future.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{
    ClusterMachine, Command, Event, Input, Millis, Observation, Phase, PodPhase, Step, backoff,
};
use support::*;

fn tick(at: Millis) -> Event {
    Event {
        at,
        input: Input::Tick,
    }
}

fn wakes(step: &Step) -> Vec<Millis> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            Command::WakeAt(at) => Some(*at),
            _ => None,
        })
        .collect()
}

fn announced(step: &Step, reason: &str) -> usize {
    step.commands
        .iter()
        .filter(|c| matches!(c, Command::Announce(n) if n.reason == reason))
        .count()
}

/// A world whose head pod has failed, with UID `uid`.
fn failed_head(uid: &str) -> Observation {
    let s = spec();
    let mut world = applied(&s);
    let mut head = pod("c-head-0", uid, false, T0);
    head.phase = PodPhase::Failed;
    world.head.pod = Some(head);
    world
}

#[test]
fn phases_without_a_timer_report_none() {
    for phase in [
        Phase::Pending,
        Phase::Scaling,
        Phase::Ready,
        Phase::Suspended,
        Phase::Deleted,
    ] {
        let (m, _) = drive_to(phase);
        assert_eq!(m.next_wake(), None, "{phase}");
    }
}

#[test]
fn head_starting_wakes_at_the_stuck_window_and_says_so() {
    let s = spec();
    let mut m = ClusterMachine::new();
    let step = m.step(&observed(at(1), &s, &Observation::default()));
    assert_eq!(m.phase(), Phase::HeadStarting);
    let due = at(1).plus(backoff::STUCK_AFTER_MS);
    assert_eq!(m.next_wake(), Some(due));
    assert_eq!(wakes(&step), vec![due], "the timer is emitted as data");

    // Before the window: nothing, and no new WakeAt.
    let early = m.step(&tick(at(2)));
    assert!(early.commands.is_empty(), "{:?}", early.commands);

    // At the window: one HeadNotReady, and the timer is spent.
    let fired = m.step(&tick(due));
    assert_eq!(announced(&fired, "HeadNotReady"), 1);
    assert_eq!(m.next_wake(), None);
    // Never again in this phase.
    let later = m.step(&tick(due.plus(60_000)));
    assert_eq!(announced(&later, "HeadNotReady"), 0);
}

#[test]
fn recovering_wakes_at_the_stuck_window_from_the_loss() {
    let (mut m, last) = drive_to(Phase::Recovering);
    let due = last.plus(backoff::STUCK_AFTER_MS);
    assert_eq!(m.next_wake(), Some(due));
    let fired = m.step(&tick(due));
    assert_eq!(announced(&fired, "HeadNotReady"), 1);
    assert_eq!(m.next_wake(), None);
}

#[test]
fn the_stuck_window_comes_from_the_spec() {
    let mut s = spec();
    s.head_stuck_after_ms = Some(5_000);
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &Observation::default()));
    assert_eq!(m.next_wake(), Some(at(6)));
    // An observation after the window fires the timer by itself.
    let step = m.step(&observed(at(7), &s, &applied(&s)));
    assert_eq!(announced(&step, "HeadNotReady"), 1);
    assert_eq!(m.next_wake(), None);
}

#[test]
fn a_failed_head_wakes_at_its_retry_then_at_the_stuck_window() {
    let s = spec();
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &Observation::default()));
    let step = m.step(&observed(at(2), &s, &failed_head("a")));
    let retry = at(2).plus(backoff::delay_after(1));
    assert_eq!(m.next_wake(), Some(retry));
    assert_eq!(wakes(&step), vec![retry]);
    // The retry window passes: the timer is cleared and the stuck window is next.
    let step = m.step(&tick(retry));
    assert_eq!(m.cluster().head_retry_at, None);
    let stuck = at(1).plus(backoff::STUCK_AFTER_MS);
    assert_eq!(m.next_wake(), Some(stuck));
    assert_eq!(wakes(&step), vec![stuck]);
}

#[test]
fn a_retry_window_left_over_in_scaling_expires_on_its_tick() {
    let s = spec();
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &Observation::default()));
    m.step(&observed(at(2), &s, &failed_head("a")));
    m.step(&observed(at(3), &s, &with_head(applied(&s), "head-1")));
    assert_eq!(m.phase(), Phase::Scaling);
    let retry = at(2).plus(backoff::delay_after(1));
    assert_eq!(m.next_wake(), Some(retry));
    m.step(&tick(retry));
    assert_eq!(m.next_wake(), None);
}

#[test]
fn ready_after_head_failures_wakes_to_reset_the_backoff() {
    let s = spec();
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &Observation::default()));
    m.step(&observed(at(2), &s, &failed_head("a")));
    m.step(&observed(at(20), &s, &converged(&s)));
    let step = m.step(&observed(at(21), &s, &converged(&s)));
    assert_eq!(m.phase(), Phase::Ready);
    let reset = at(21).plus(backoff::RESET_AFTER_MS);
    assert_eq!(m.next_wake(), Some(reset));
    assert_eq!(wakes(&step), vec![reset]);
    m.step(&tick(reset));
    assert_eq!(m.cluster().head_failures, 0);
    assert_eq!(m.next_wake(), None);
}

#[test]
fn next_wake_is_after_every_event_and_wake_at_follows_it() {
    // A long history across all timers, with events arriving late.
    let s = spec();
    let mut short = spec();
    short.head_stuck_after_ms = Some(1_000);
    let events = vec![
        observed(at(1), &s, &Observation::default()),
        observed(at(2), &s, &failed_head("a")),
        observed(at(400), &s, &failed_head("b")),
        observed(at(401), &short, &applied(&short)),
        observed(at(500), &s, &converged(&s)),
        observed(at(501), &s, &converged(&s)),
        tick(at(2_000)),
        Event {
            at: at(2_001),
            input: Input::Deleted,
        },
    ];
    let mut m = ClusterMachine::new();
    let mut announced_wake = None;
    for event in &events {
        let step = m.step(event);
        if let Some(&last) = wakes(&step).last() {
            announced_wake = Some(last);
            assert_eq!(
                step.commands.last(),
                Some(&Command::WakeAt(last)),
                "WakeAt comes last"
            );
        }
        if let Some(wake) = m.next_wake() {
            assert!(wake > event.at, "{wake:?} not after {:?}", event.at);
            assert_eq!(announced_wake, Some(wake), "every timer was announced");
        }
    }
    assert_eq!(m.phase(), Phase::Deleted);
    assert_eq!(m.next_wake(), None);
}

#[test]
fn resume_re_issues_the_last_status_and_the_timer() {
    let (m, last) = drive_to(Phase::HeadStarting);
    let restored: ClusterMachine =
        serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    let resumed = restored.resume();
    assert!(
        matches!(resumed.first(), Some(Command::PublishStatus(s)) if s.phase == Phase::HeadStarting)
    );
    assert_eq!(
        resumed.last(),
        Some(&Command::WakeAt(last.plus(backoff::STUCK_AFTER_MS)))
    );
    assert!(ClusterMachine::new().resume().is_empty());
    let (deleted, _) = drive_to(Phase::Deleted);
    assert_eq!(deleted.resume(), vec![Command::Forget]);
}
