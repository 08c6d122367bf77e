//! The RayCronJob transition table as data: the source of
//! `machines/RAYCRONJOB_TRANSITIONS.md`; a test walks every row through the
//! real machine and checks the target phase and the command kinds.

use super::{command::CronCommandKind, phase::CronPhase};
pub use crate::table::Target;
use crate::table::{KindEdge, kind_markdown};

/// One row of the table.
pub type CronEdge = KindEdge<CronPhase, CronCommandKind>;

use CronCommandKind::{Announce, CreateRayJob, Forget, PatchStatus, WakeAt};
use CronPhase::{Deleted, Invalid, New, Scheduling, Suspended};
use Target::{Same, To};

/// Every row of the RayCronJob machine's table.
pub const CRON_TABLE: &[CronEdge] = &[
    CronEdge {
        id: "new-wait",
        from: &[New],
        on: "Observed: spec valid, no tick since creation",
        to: To(Scheduling),
        commands: &[WakeAt],
    },
    CronEdge {
        id: "new-due",
        from: &[New],
        on: "Observed: spec valid, one tick since creation (or lastScheduleTime)",
        to: To(Scheduling),
        commands: &[CreateRayJob, PatchStatus, WakeAt],
    },
    CronEdge {
        id: "new-catch-up",
        from: &[New],
        on: "Observed: spec valid, several ticks missed: only the latest is created",
        to: To(Scheduling),
        commands: &[CreateRayJob, PatchStatus, Announce, WakeAt],
    },
    CronEdge {
        id: "new-adopt",
        from: &[New],
        on: "Observed: lastScheduleTime is the latest due tick (no journal)",
        to: To(Scheduling),
        commands: &[WakeAt],
    },
    CronEdge {
        id: "tick-due",
        from: &[Scheduling],
        on: "Tick: the next tick has come",
        to: Same,
        commands: &[CreateRayJob, PatchStatus, WakeAt],
    },
    CronEdge {
        id: "tick-early",
        from: &[Scheduling],
        on: "Tick: before the next tick",
        to: Same,
        commands: &[],
    },
    CronEdge {
        id: "observed-wait",
        from: &[Scheduling],
        on: "Observed: no tick due",
        to: Same,
        commands: &[],
    },
    CronEdge {
        id: "observed-due",
        from: &[Scheduling],
        on: "Observed: the next tick has come (before its Tick)",
        to: Same,
        commands: &[CreateRayJob, PatchStatus, WakeAt],
    },
    CronEdge {
        id: "observed-child-exists",
        from: &[Scheduling],
        on: "Observed: the due tick's RayJob already exists",
        to: Same,
        commands: &[PatchStatus, WakeAt],
    },
    CronEdge {
        id: "catch-up",
        from: &[Scheduling],
        on: "Observed: several ticks passed unseen (operator down): only the latest is created",
        to: Same,
        commands: &[CreateRayJob, PatchStatus, Announce, WakeAt],
    },
    CronEdge {
        id: "schedule-changed",
        from: &[Scheduling],
        on: "Observed: schedule or zone changed: ticks count from now",
        to: Same,
        commands: &[WakeAt],
    },
    CronEdge {
        id: "status-stale",
        from: &[Scheduling],
        on: "Observed: status behind the last tick (its write failed)",
        to: Same,
        commands: &[PatchStatus],
    },
    CronEdge {
        id: "create-failed",
        from: &[Scheduling],
        on: "CommandFailed: CreateRayJob (retried after a backoff)",
        to: Same,
        commands: &[Announce, WakeAt],
    },
    CronEdge {
        id: "retry-due",
        from: &[Scheduling],
        on: "Tick: a failed create's retry has come",
        to: Same,
        commands: &[CreateRayJob, WakeAt],
    },
    CronEdge {
        id: "suspend",
        from: &[New, Scheduling, Invalid],
        on: "Observed: spec valid, spec.suspend",
        to: To(Suspended),
        commands: &[Announce],
    },
    CronEdge {
        id: "suspended-steady",
        from: &[Suspended],
        on: "Observed: still suspended (announced once per suspension)",
        to: Same,
        commands: &[],
    },
    CronEdge {
        id: "resume",
        from: &[Suspended],
        on: "Observed: spec.suspend cleared: ticks count from now",
        to: To(Scheduling),
        commands: &[WakeAt],
    },
    CronEdge {
        id: "invalid",
        from: &[New, Scheduling, Suspended],
        on: "Observed: spec problems, a bad schedule or zone",
        to: To(Invalid),
        commands: &[Announce],
    },
    CronEdge {
        id: "invalid-new-generation",
        from: &[Invalid],
        on: "Observed: a new generation, still invalid",
        to: Same,
        commands: &[Announce],
    },
    CronEdge {
        id: "invalid-steady",
        from: &[Invalid],
        on: "Observed: the same invalid generation",
        to: Same,
        commands: &[],
    },
    CronEdge {
        id: "fixed",
        from: &[Invalid],
        on: "Observed: spec valid again: ticks count from now",
        to: To(Scheduling),
        commands: &[WakeAt],
    },
    CronEdge {
        id: "idle-tick",
        from: &[New, Suspended, Invalid],
        on: "Tick",
        to: Same,
        commands: &[],
    },
    CronEdge {
        id: "command-failed",
        from: &[Scheduling, Suspended, Invalid],
        on: "CommandFailed: PatchStatus (written again when found stale)",
        to: Same,
        commands: &[Announce],
    },
    CronEdge {
        id: "deleted",
        from: &[New, Scheduling, Suspended, Invalid],
        on: "Deleted",
        to: To(Deleted),
        commands: &[Forget],
    },
    CronEdge {
        id: "terminal",
        from: &[Deleted],
        on: "any event",
        to: Same,
        commands: &[],
    },
];

/// The table as Markdown, one row per edge.
#[must_use]
pub fn markdown() -> String {
    kind_markdown(CRON_TABLE)
}
