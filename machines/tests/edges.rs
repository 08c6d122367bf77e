//! Walks every edge of the published transition table through the real
//! machine: from each listed phase, the edge's event must lead to the listed
//! phase with exactly the listed command kinds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{ClusterMachine, Phase, table::TABLE};
use support::*;

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
