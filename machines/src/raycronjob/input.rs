//! What a RayCronJob machine is fed: one observation per reconcile (the spec
//! summarized, `status.lastScheduleTime` and the ticks of the existing child
//! RayJobs), a due timer, a failed command, or deletion.
//!
//! Invariant: every moment is milliseconds since the epoch chosen by the
//! caller; the operator's own zone arrives as data, so the machine reads no
//! environment.

use serde::{Deserialize, Serialize};

use super::command::CronCommandKind;
use crate::{Millis, SpecProblem};

/// One input to a RayCronJob machine; the moment is the event's `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CronInput {
    /// The spec and the world, read in one reconcile.
    Observed {
        /// The spec, summarized.
        spec: CronSpec,
        /// The status and the children.
        world: CronWorld,
    },
    /// A timer set by an earlier `WakeAt` came due.
    Tick,
    /// A command issued earlier failed (`AlreadyExists` on a create is a
    /// success, never reported).
    CommandFailed {
        /// The failed command's kind.
        command: CronCommandKind,
        /// A short CamelCase reason.
        reason: String,
        /// The error as reported.
        message: String,
    },
    /// The RayCronJob is being deleted (or is gone).
    Deleted,
}

/// The spec of one RayCronJob, summarized for the machine.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CronSpec {
    /// `metadata.generation`.
    pub generation: i64,
    /// `spec.schedule`, as written.
    pub schedule: String,
    /// `spec.timeZone`.
    pub time_zone: Option<String>,
    /// The zone of an unset `timeZone`: the operator's (its `TZ`, else UTC).
    pub operator_zone: String,
    /// `spec.suspend`.
    pub suspend: bool,
    /// `metadata.creationTimestamp`: ticks count from there.
    pub creation: Millis,
    /// Validation failures, empty when the spec is valid (the machine also
    /// checks the schedule and zone itself).
    pub problems: Vec<SpecProblem>,
}

impl CronSpec {
    /// What decides the ticks: the schedule and the zone it is read in.
    #[must_use]
    pub fn recurrence_key(&self) -> (&str, Option<&str>, &str) {
        (
            &self.schedule,
            self.time_zone.as_deref(),
            &self.operator_zone,
        )
    }
}

/// The world of one RayCronJob, as read in one reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CronWorld {
    /// `status.lastScheduleTime`.
    pub last_schedule: Option<Millis>,
    /// The tick of each child RayJob that exists (its
    /// `ray.io/cronjob-scheduled-timestamp`).
    pub children: Vec<Millis>,
}
