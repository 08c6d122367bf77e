//! The checks every kind's transition-table test makes: each row holds
//! through the real machine, every phase is left and entered, row ids are
//! unique, and the published Markdown is current.
#![allow(dead_code, clippy::panic, clippy::unwrap_used)]

use std::fmt::{Debug, Display};

use rayop_machines::{Step, table::KindEdge};

/// Runs `step(id, from)` (the row's event fed to a machine driven to `from`)
/// for every row and phase, checking the target and the command kinds.
pub fn every_row_holds<P, K, C>(
    table: &[KindEdge<P, K>],
    mut step: impl FnMut(&str, P) -> Step<P, C>,
    kind: impl Fn(&C) -> K,
) where
    P: Copy + PartialEq + Debug + Display,
    K: PartialEq + Debug,
    C: Debug,
{
    let mut walked = 0;
    for edge in table {
        for &from in edge.from {
            let step = step(edge.id, from);
            assert_eq!(step.from, from, "row {}", edge.id);
            assert_eq!(
                step.to,
                edge.to_for(from),
                "row {} from {from}: wrong target; commands {:#?}",
                edge.id,
                step.commands
            );
            let kinds: Vec<K> = step.commands.iter().map(&kind).collect();
            assert_eq!(
                kinds, edge.commands,
                "row {} from {from}: wrong commands {:#?}",
                edge.id, step.commands
            );
            walked += 1;
        }
    }
    assert!(walked >= table.len());
}

/// Every phase but `initial` is entered from another, and every phase is left.
pub fn every_phase_is_left_and_entered<P, K>(table: &[KindEdge<P, K>], all: &[P], initial: P)
where
    P: Copy + PartialEq + Display,
{
    for &phase in all {
        assert!(
            table.iter().any(|e| e.from.contains(&phase)),
            "{phase} has no row leaving it"
        );
        if phase != initial {
            assert!(
                table
                    .iter()
                    .any(|e| e.from.iter().any(|&f| f != phase && e.to_for(f) == phase)),
                "nothing enters {phase}"
            );
        }
    }
}

/// No two rows share an id.
pub fn row_ids_are_unique<P, K>(table: &[KindEdge<P, K>]) {
    let mut ids: Vec<_> = table.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before);
}

/// `machines/<file>` holds `expected`; `RAYOP_BLESS=1` writes it.
pub fn published_table_is_current(file: &str, expected: &str, test: &str) {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("RAYOP_BLESS").is_some() {
        std::fs::write(&path, expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        actual, expected,
        "machines/{file} is stale: run `RAYOP_BLESS=1 cargo test -p rayop-machines --test {test}`"
    );
}
