//! Walks every row of the RayCronJob transition table through the real
//! machine: from each listed phase the row's event must lead to the listed
//! phase with exactly the listed command kinds. Also keeps
//! RAYCRONJOB_TRANSITIONS.md fresh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cron_support;

mod table_support;

use cron_support::*;
use rayop_machines::raycronjob::{
    CronCommand, CronCommandKind, CronEvent, CronInput, CronPhase, CronSpec, CronWorld,
    table::CRON_TABLE,
};
use table_support::{every_row_holds, published_table_is_current};

fn failed(command: CronCommandKind) -> CronInput {
    CronInput::CommandFailed {
        command,
        reason: "Forbidden".into(),
        message: "denied".into(),
    }
}

/// The machine before the row's event, and the event.
fn case(id: &str, from: CronPhase) -> (Driver, CronEvent) {
    let mut d = drive_to(from);
    let e = match id {
        "new-wait" => d.after(0, obs(&spec(), empty())),
        "new-due" => d.after(MIN, obs(&spec(), empty())),
        "new-catch-up" => d.after(10 * MIN, obs(&spec(), empty())),
        "new-adopt" => {
            let world = CronWorld {
                last_schedule: Some(T0.plus(2 * MIN)),
                children: vec![T0.plus(2 * MIN)],
            };
            d.after(2 * MIN, obs(&spec(), world))
        }
        "tick-due" => d.after(MIN - 1000, CronInput::Tick),
        "tick-early" => d.after(30_000, CronInput::Tick),
        "observed-wait" => d.after(30_000, obs(&spec(), empty())),
        "observed-due" => d.after(MIN, obs(&spec(), empty())),
        "observed-child-exists" => {
            let world = CronWorld {
                last_schedule: None,
                children: vec![T0.plus(MIN)],
            };
            d.after(MIN, obs(&spec(), world))
        }
        "catch-up" => d.after(30 * MIN, obs(&spec(), empty())),
        "schedule-changed" => {
            let hourly = CronSpec {
                generation: 2,
                schedule: "@hourly".into(),
                ..spec()
            };
            d.after(10_000, obs(&hourly, empty()))
        }
        "status-stale" => {
            d.feed_at(T0.plus(MIN), CronInput::Tick);
            d.feed(failed(CronCommandKind::PatchStatus));
            d.after(1000, obs(&spec(), empty()))
        }
        "create-failed" => {
            d.feed_at(T0.plus(MIN), CronInput::Tick);
            d.after(100, failed(CronCommandKind::CreateRayJob))
        }
        "retry-due" => {
            d.feed_at(T0.plus(MIN), CronInput::Tick);
            d.feed(failed(CronCommandKind::CreateRayJob));
            d.after(10_000, CronInput::Tick)
        }
        "suspend" => d.after(1000, obs(&suspended(2), empty())),
        "suspended-steady" => d.after(5 * MIN, obs(&suspended(1), empty())),
        "resume" => d.after(5 * MIN, obs(&spec(), empty())),
        "invalid" => d.after(1000, obs(&broken(2), empty())),
        "invalid-new-generation" => d.after(1000, obs(&broken(2), empty())),
        "invalid-steady" => d.after(5 * MIN, obs(&broken(1), empty())),
        "fixed" => {
            let good = CronSpec {
                generation: 2,
                ..spec()
            };
            d.after(5 * MIN, obs(&good, empty()))
        }
        "idle-tick" => d.after(5 * MIN, CronInput::Tick),
        "command-failed" => d.after(1000, failed(CronCommandKind::PatchStatus)),
        "deleted" | "terminal" => d.after(1000, CronInput::Deleted),
        other => panic!("no case for row {other}"),
    };
    (d, e)
}

#[test]
fn every_row_of_the_table_holds() {
    every_row_holds(
        CRON_TABLE,
        |id, from| {
            let (mut d, event) = case(id, from);
            d.machine.step(&event)
        },
        CronCommand::kind,
    );
}

#[test]
fn every_phase_is_left_and_entered() {
    table_support::every_phase_is_left_and_entered(CRON_TABLE, &CronPhase::ALL, CronPhase::New);
}

#[test]
fn row_ids_are_unique() {
    table_support::row_ids_are_unique(CRON_TABLE);
}

#[test]
fn the_published_table_is_current() {
    published_table_is_current(
        "RAYCRONJOB_TRANSITIONS.md",
        &rayop_machines::raycronjob::table::markdown(),
        "raycronjob_edges",
    );
}
