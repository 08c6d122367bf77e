//! Golden RayService journals: one recorded journal per row of the
//! transition table and phase it leaves from, under
//! `tests/fixtures/rayservice/<row>--<FromPhase>.jsonl` (one JSON line per
//! event with its step, then the machine's final snapshot). Each is built
//! by the scenario of the edge test (`service_support::case`), compared
//! with the stored one, and replayed through a fresh machine, so any change
//! in the machine's phases, commands or snapshotted state fails here,
//! naming the row. After an *intended* change, re-bless with
//! `RAYOP_BLESS=1 cargo test -p rayop-machines --test rayservice_golden`
//! and review the fixture diff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod service_support;

use std::path::PathBuf;

use rayop_machines::rayservice::{ServiceMachine, ServicePhase, table::SERVICE_TABLE};
use serde_json::Value;
use service_support::*;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rayservice")
}

fn name(id: &str, from: ServicePhase) -> String {
    format!("{id}--{from}.jsonl")
}

/// The journal of a row's scenario, its event last, and the final machine.
fn recorded(id: &str, from: ServicePhase) -> (Vec<Line>, ServiceMachine) {
    let (mut d, event) = case(id, from);
    let step = d.machine.step(&event);
    d.journal.push(Line { event, step });
    (d.journal, d.machine)
}

fn render(lines: &[Line], machine: &ServiceMachine) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&serde_json::to_string(line).unwrap());
        out.push('\n');
    }
    out.push_str(&serde_json::to_string(machine).unwrap());
    out.push('\n');
    out
}

#[test]
fn every_row_has_its_golden_journal_and_it_replays() {
    let bless = std::env::var_os("RAYOP_BLESS").is_some();
    if bless {
        std::fs::create_dir_all(dir()).unwrap();
    }
    let mut expected = Vec::new();
    for edge in SERVICE_TABLE {
        for &from in edge.from {
            let file = name(edge.id, from);
            let (lines, machine) = recorded(edge.id, from);
            let path = dir().join(&file);
            if bless {
                std::fs::write(&path, render(&lines, &machine)).unwrap();
            }
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{file}: {e}; bless with RAYOP_BLESS=1"));
            let mut stored: Vec<&str> = text.lines().collect();
            let snapshot: Value = serde_json::from_str(stored.pop().unwrap()).unwrap();
            let mut replayed = ServiceMachine::new();
            for (i, raw) in stored.iter().enumerate() {
                let line: Line = serde_json::from_str(raw).unwrap();
                let step = replayed.step(&line.event);
                assert_eq!(
                    step, line.step,
                    "{file}: line {i} no longer gives the recorded step"
                );
            }
            assert_eq!(
                serde_json::to_value(&replayed).unwrap(),
                snapshot,
                "{file}: the replayed machine's state differs from the recorded snapshot"
            );
            assert_eq!(
                render(&lines, &machine),
                text,
                "{file}: the row's scenario no longer records this journal"
            );
            expected.push(file);
        }
    }
    let mut present: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    present.sort();
    expected.sort();
    assert_eq!(
        present, expected,
        "fixtures without a row, or rows without a fixture"
    );
}
