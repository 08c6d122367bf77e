//! Walks every row of the RayCronJob transition table through the real
//! machine: from each listed phase the row's event must lead to the listed
//! phase with exactly the listed command kinds. Also keeps
//! RAYCRONJOB_TRANSITIONS.md fresh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cron_support;

use cron_support::*;
use rayop_machines::raycronjob::{
    CronCommandKind, CronEvent, CronInput, CronPhase, CronSpec, CronWorld, table::CRON_TABLE,
};

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
    let mut walked = 0;
    for edge in CRON_TABLE {
        for &from in edge.from {
            let (mut d, event) = case(edge.id, from);
            let step = d.machine.step(&event);
            assert_eq!(step.from, from, "row {}", edge.id);
            assert_eq!(
                step.to,
                edge.to_for(from),
                "row {} from {from}: wrong target; commands {:#?}",
                edge.id,
                step.commands
            );
            assert_eq!(
                kinds(&step),
                edge.commands,
                "row {} from {from}: wrong commands {:#?}",
                edge.id,
                step.commands
            );
            walked += 1;
        }
    }
    assert!(walked >= CRON_TABLE.len());
}

#[test]
fn every_phase_is_left_and_entered() {
    for phase in CronPhase::ALL {
        assert!(
            CRON_TABLE.iter().any(|e| e.from.contains(&phase)),
            "{phase} has no row leaving it"
        );
        if phase != CronPhase::New {
            assert!(
                CRON_TABLE
                    .iter()
                    .any(|e| e.from.iter().any(|&f| f != phase && e.to_for(f) == phase)),
                "nothing enters {phase}"
            );
        }
    }
}

#[test]
fn row_ids_are_unique() {
    let mut ids: Vec<_> = CRON_TABLE.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before);
}

#[test]
fn the_published_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/RAYCRONJOB_TRANSITIONS.md");
    let expected = rayop_machines::raycronjob::table::markdown();
    if std::env::var_os("RAYOP_BLESS").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        actual, expected,
        "machines/RAYCRONJOB_TRANSITIONS.md is stale: run `RAYOP_BLESS=1 cargo test -p rayop-machines --test raycronjob_edges`"
    );
}
