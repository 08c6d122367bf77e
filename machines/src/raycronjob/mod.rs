//! The pure, deterministic, journaled state machine of one RayCronJob, and
//! its schedule.
//!
//! Each RayCronJob has one [`CronMachine`]. The operator summarizes one
//! reconcile as [`CronInput::Observed`] (the spec, `status.lastScheduleTime`
//! and the ticks of the child RayJobs that exist; plus `Tick`,
//! `CommandFailed`, `Deleted`); the machine answers with a [`crate::Step`] of
//! [`CronPhase`]s and [`CronCommand`]s. It implements [`crate::Machine`].
//! The moment of every input is the event's `at`.
//!
//! Invariants (those of the crate): no I/O and no clock; deterministic (the
//! time zone database is bundled, never read from the host); serde all the
//! way. A child RayJob is named by its tick (`<cronjob>-<tick minutes since
//! the epoch>`), so creating it is idempotent.
//!
//! | Module | What it holds |
//! |---|---|
//! | [`schedule`] | ticks: `next_after`, the latest missed tick, zones |
//! | [`standard`] | robfig's `ParseStandard` syntax read for croner |
//! | [`go_duration`] | Go's duration syntax, for `@every` |
//! | [`machine`] | the statig machine and its storage |
//! | [`table`] | the transition table as data |
//!
//! # Decisions where rayop differs from KubeRay v1.7
//!
//! | KubeRay | rayop |
//! |---|---|
//! | Missed ticks (operator down, or un-suspended) are replayed one by one: an every-minute schedule down for three days makes 4320 RayJobs | Only the most recent missed tick gets a RayJob; a Normal Event `MissedSchedules` says how many were skipped (counted up to [`schedule::MAX_COUNTED`]). Like batch/v1 CronJob without `startingDeadlineSeconds`, but bounded. |
//! | Un-suspending replays every tick of the suspension | Ticks during a suspension are skipped: the first tick after resuming is the next one. Likewise after an invalid spec is fixed, and after `schedule`/`timeZone` change (KubeRay computes the new schedule's ticks from `lastScheduleTime`). A machine without a journal cannot know of a past suspension and treats it as downtime (one RayJob for the latest tick). |
//! | Overlap | Allow, as KubeRay (it has no `concurrencyPolicy`): a tick creates its RayJob even while an earlier one runs. |
//! | Duplicate children when the `lastScheduleTime` write was not yet in the cache (#4849, fixed by names) | Names per tick as KubeRay, and more: `last_schedule` is the greatest of the machine's own (journaled), `status.lastScheduleTime` and the children's ticks, only moves forward, and a RayJob is created only for a tick after it, so a tick whose child exists is never created again. |
//! | `SuspendedRayCronJob` Normal Event on every reconcile | Once per suspension. `InvalidRayCronJobSpec` once per generation. |
//! | A failed create is retried at the next reconcile, every 3 s at most | Retried after [`crate::backoff::delay_after`] (10 s, doubling to 5 min), until the next tick supersedes it. |
//! | `@every` below a second becomes one second; `@every 0s` and negative durations tick every second | Sub-second periods become one second; zero and negative are invalid. Sub-minute periods share a child name within a minute: at most one RayJob a minute, as in KubeRay (there by `AlreadyExists`). |
//! | Daylight saving per robfig: a fixed time in a spring-forward gap is skipped that day, one in a fall-back repeat runs twice | croner's rule: the skipped time runs at the first instant after the gap; a fixed time in the repeat runs once, an interval pattern in both repeats. |
//! | A pattern that never matches (`0 0 30 2 *`) is accepted and never ticks | Invalid, announced. |
//!
//! # Transition table
//!
#![doc = include_str!("../../RAYCRONJOB_TRANSITIONS.md")]

mod command;
mod driver;
pub mod go_duration;
mod input;
pub mod machine;
mod phase;
pub mod schedule;
pub mod standard;
pub mod table;

pub use command::{CronCommand, CronCommandKind};
pub use driver::CronMachine;
pub use input::{CronInput, CronSpec, CronWorld};
pub use machine::{CronEvent, minute_of};
pub use phase::CronPhase;
pub use schedule::{Schedule, ScheduleError, next_after, validate};
