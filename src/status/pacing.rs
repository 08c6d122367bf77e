//! How often one cluster's status may be written.
//!
//! Role: pods come up one at a time, and every pod changes a count in the
//! status. Pacing coalesces those writes: a change is written at once when
//! nothing was written for the cluster recently, and otherwise held until
//! the cluster's window has passed, when whatever the status is by then is
//! written in one go.
//!
//! Invariants:
//! - Pure: the caller passes the clock and the time of the last write.
//! - Nothing is ever dropped: a held change returns the delay after which
//!   the caller must look again (the reconcile requeues itself then), and
//!   the status written then is recomputed from the current state.
//! - A change of phase or of a condition waits at most [`PHASE_WINDOW`]; a
//!   change of counts or endpoints only, at most [`COUNTS_WINDOW`].
//! - No change, no write: pacing never adds writes in steady state.

use std::time::{Duration, Instant};

use crate::crd::status::RayClusterStatus;

/// The shortest time between two status writes of one cluster when the
/// phase or a condition changed.
pub const PHASE_WINDOW: Duration = Duration::from_secs(1);
/// The shortest time between two status writes of one cluster when only
/// counts or endpoints changed.
pub const COUNTS_WINDOW: Duration = Duration::from_secs(5);

/// What to do with a status that differs from the live one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// Write it now.
    Now,
    /// Hold it; look again after this long.
    After(Duration),
}

fn conditions(s: &RayClusterStatus) -> Vec<(&str, &str)> {
    let mut c: Vec<(&str, &str)> = s
        .conditions
        .iter()
        .map(|c| (c.type_.as_str(), c.status.as_str()))
        .collect();
    c.sort_unstable();
    c
}

/// Whether the change from `live` to `desired` is one users wait for: the
/// first status, a new phase or state, or a condition that changed its
/// status. A new generation also counts, so totals derived from the spec
/// (`desiredCPU`, …) are written promptly; a change in counts alone
/// (`readyWorkerReplicas`, `availableWorkerReplicas`) is not a milestone.
#[must_use]
pub fn is_milestone(live: Option<&RayClusterStatus>, desired: &RayClusterStatus) -> bool {
    live.is_none_or(|live| {
        live.phase != desired.phase
            || live.state != desired.state
            || live.observed_generation != desired.observed_generation
            || conditions(live) != conditions(desired)
    })
}

/// When to write `desired` over `live`, the last write of this cluster's
/// status having happened at `last_write` (never, in this process: `None`).
#[must_use]
pub fn pace(
    live: Option<&RayClusterStatus>,
    desired: &RayClusterStatus,
    last_write: Option<Instant>,
    now: Instant,
) -> Pace {
    let Some(last) = last_write else {
        return Pace::Now;
    };
    let window = if is_milestone(live, desired) {
        PHASE_WINDOW
    } else {
        COUNTS_WINDOW
    };
    let since = now.saturating_duration_since(last);
    if since >= window {
        Pace::Now
    } else {
        Pace::After(window - since)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    use super::*;
    use crate::crd::status::Phase;

    fn status(phase: Phase, generation: i64, ready_workers: i32) -> RayClusterStatus {
        RayClusterStatus {
            phase: Some(phase),
            observed_generation: Some(generation),
            ready_worker_replicas: Some(ready_workers),
            ..RayClusterStatus::default()
        }
    }

    #[test]
    fn the_first_write_of_a_process_is_never_held() {
        let now = Instant::now();
        let desired = status(Phase::HeadStarting, 1, 0);
        assert_eq!(pace(None, &desired, None, now), Pace::Now);
        let live = status(Phase::Pending, 1, 0);
        assert_eq!(pace(Some(&live), &desired, None, now), Pace::Now);
    }

    #[test]
    fn a_new_phase_waits_at_most_the_phase_window() {
        let t0 = Instant::now();
        let live = status(Phase::HeadStarting, 1, 0);
        let desired = status(Phase::Scaling, 1, 0);
        let soon = t0 + Duration::from_millis(300);
        assert_eq!(
            pace(Some(&live), &desired, Some(t0), soon),
            Pace::After(PHASE_WINDOW - Duration::from_millis(300))
        );
        assert_eq!(
            pace(Some(&live), &desired, Some(t0), t0 + PHASE_WINDOW),
            Pace::Now
        );
    }

    #[test]
    fn counts_alone_wait_for_the_longer_window() {
        let t0 = Instant::now();
        let live = status(Phase::Scaling, 1, 1);
        let desired = status(Phase::Scaling, 1, 2);
        assert!(!is_milestone(Some(&live), &desired));
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            pace(Some(&live), &desired, Some(t0), later),
            Pace::After(COUNTS_WINDOW - Duration::from_secs(2))
        );
        assert_eq!(
            pace(Some(&live), &desired, Some(t0), t0 + COUNTS_WINDOW),
            Pace::Now
        );
    }

    #[test]
    fn a_new_generation_or_condition_is_a_milestone() {
        let live = status(Phase::Ready, 1, 3);
        assert!(is_milestone(Some(&live), &status(Phase::Ready, 2, 3)));
        let mut failing = live.clone();
        failing.conditions.push(Condition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: "Forbidden".into(),
            message: String::new(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: None,
        });
        assert!(is_milestone(Some(&live), &failing));
        assert!(is_milestone(None, &live));
    }
}
