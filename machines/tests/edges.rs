//! Walks every edge of the published transition table through the real
//! machine: from each listed phase, the edge's event must lead to the listed
//! phase with exactly the listed command kinds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{
    ClusterMachine, Event, Input, Millis, Observation, Phase, PodPhase, table::TABLE,
};
use support::*;

/// The event that exercises `edge_id` on a machine in `from`, driven there by
/// `drive_to` with its last event at `last`.
fn event_for(edge_id: &str, from: Phase, last: Millis) -> Event {
    let s = spec();
    let next = last.plus(1_000);
    match edge_id {
        "pending-invalid" | "became-invalid" => observed(next, &invalid(spec()), &converged(&s)),
        "pending-start" => observed(next, &s, &Observation::default()),
        "pending-adopt-scaling" => {
            let mut world = with_head(applied(&s), "head-1");
            world.groups.clear();
            observed(next, &s, &world)
        }
        "pending-adopt-ready" | "scaled" | "steady" => observed(next, &s, &converged(&s)),
        "suspend" => {
            let mut suspended = spec();
            suspended.suspend = true;
            observed(next, &suspended, &converged(&s))
        }
        "head-ready" => observed(next, &s, &converged(&s)),
        "head-failed-retry" => {
            let mut world = converged(&s);
            let mut head = pod("c-head-0", "head-9", false, last);
            head.phase = PodPhase::Failed;
            world.head.pod = Some(head);
            observed(next, &s, &world)
        }
        "head-stuck" => Event {
            at: last.plus(rayop_machines::backoff::STUCK_AFTER_MS),
            input: Input::Tick,
        },
        "head-lost" => {
            let mut world = converged(&s);
            world.head.pod = None;
            observed(next, &s, &world)
        }
        "spec-changed" => {
            let mut bigger = spec();
            bigger.generation = 2;
            bigger.groups[0].replicas = 3;
            observed(next, &bigger, &converged(&s))
        }
        "worker-lost" => {
            let mut world = converged(&s);
            world.groups[0].pods.pop();
            observed(next, &s, &world)
        }
        "head-back-restart-workers" => {
            let world = with_head(converged(&s), "head-2");
            observed(next, &s, &world)
        }
        "head-back-ft" => {
            let mut ft = spec();
            ft.gcs_fault_tolerance = true;
            observed(next, &ft, &with_head(converged(&s), "head-2"))
        }
        "resume" => {
            let mut suspended = spec();
            suspended.suspend = true;
            observed(next, &s, &applied(&suspended))
        }
        "command-failed" => Event {
            at: next,
            input: Input::CommandFailed {
                command: "EnsureGroup".into(),
                reason: "FailedApplyWorkers".into(),
                message: "forbidden".into(),
            },
        },
        "deleted" => Event {
            at: next,
            input: Input::Deleted,
        },
        "terminal" => observed(next, &s, &Observation::default()),
        other => panic!("edge {other} (from {from}) has no scenario: add one to event_for"),
    }
}

#[test]
fn every_edge_of_the_table_holds() {
    let mut walked = 0;
    for edge in TABLE {
        for &from in edge.from {
            let (mut machine, last) = drive_to(from);
            let step = machine.step(&event_for(edge.id, from, last));
            assert_eq!(step.from, from, "edge {}", edge.id);
            assert_eq!(
                step.to,
                edge.to_for(from),
                "edge {} from {from}: wrong target; commands {:?}",
                edge.id,
                step.commands
            );
            assert_eq!(
                kinds(&step),
                edge.commands,
                "edge {} from {from}: wrong commands {:#?}",
                edge.id,
                step.commands
            );
            walked += 1;
        }
    }
    assert!(walked >= TABLE.len());
}

#[test]
fn every_phase_has_an_edge_leaving_it() {
    for phase in Phase::ALL {
        assert!(
            TABLE.iter().any(|e| e.from.contains(&phase)),
            "{phase} has no outgoing edge in the table"
        );
    }
}

#[test]
fn every_phase_but_pending_is_entered_by_some_edge() {
    for phase in Phase::ALL {
        if phase == Phase::Pending {
            continue;
        }
        assert!(
            TABLE
                .iter()
                .any(|e| e.from.iter().any(|&f| e.to_for(f) == phase && f != phase)),
            "nothing enters {phase}"
        );
    }
}

#[test]
fn edge_ids_are_unique() {
    let mut ids: Vec<&str> = TABLE.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len());
}

#[test]
fn published_table_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/TRANSITIONS.md");
    let expected = format!(
        "{}\n```mermaid\n{}```\n",
        rayop_machines::table::markdown(),
        rayop_machines::table::mermaid()
    );
    if std::env::var_os("RAYOP_BLESS").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        actual, expected,
        "machines/TRANSITIONS.md is stale: run `RAYOP_BLESS=1 cargo test -p rayop-machines --test edges`"
    );
}

#[test]
fn a_fresh_machine_starts_pending() {
    assert_eq!(ClusterMachine::new().phase(), Phase::Pending);
}

#[test]
fn readme_carries_the_current_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let mut readme = std::fs::read_to_string(path).unwrap();
    let table = format!(
        "{}\n```mermaid\n{}```\n",
        rayop_machines::table::markdown(),
        rayop_machines::table::mermaid()
    );
    if std::env::var_os("RAYOP_BLESS").is_some() {
        let (begin, end) = ("<!-- transitions:begin -->\n", "<!-- transitions:end -->");
        let a = readme.find(begin).unwrap() + begin.len();
        let b = readme.find(end).unwrap();
        readme.replace_range(a..b, &table);
        std::fs::write(path, &readme).unwrap();
    }
    assert!(
        readme.contains(&format!(
            "<!-- transitions:begin -->\n{table}<!-- transitions:end -->"
        )),
        "README.md's transition table is stale: run \
         `RAYOP_BLESS=1 cargo test -p rayop-machines --test edges`"
    );
}
