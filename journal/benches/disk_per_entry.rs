//! Bytes on disk per retained entry, after snapshots and retention.
//!
//! 32 streams (clusters) receive operator-sized decisions (3 records per
//! append, 10 s apart) from 32 concurrent writers with the default
//! durability; every 100 entries a snapshot is taken; after each round the
//! journal is pruned (K = 1000 entries, T = 1 hour) after every 300 entries
//! per stream. Prints a row every 4 rounds: retained entries, database bytes
//! (file sizes), bytes per retained entry; then the same after a reopen and
//! after an offline [`Journal::compact`], and the payload's own JSON size
//! for comparison.
//!
//! Run: `cargo bench -p rayop-journal --bench disk_per_entry`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod payload;

use std::time::Duration;

use payload::{MachineState, decision};
use rayop_journal::{Journal, Options, Timestamp};

const STREAMS: u64 = 32;
const DECISIONS_PER_ROUND: u64 = 100; // 300 entries per stream per round
const ROUNDS: u64 = 24;
const STEP_MS: i64 = 10_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        keep_entries: 1000,
        keep_for: Duration::from_secs(3600),
        snapshot_every: 100,
        ..Options::default()
    };
    let (j, _) = Journal::open(dir.path(), options.clone()).unwrap();
    let json_bytes: usize = decision(1)
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap().len())
        .sum();
    println!(
        "payload JSON: {:.0} bytes per entry on average",
        json_bytes as f64 / 3.0
    );
    println!("| round | retained entries | db bytes | bytes per retained entry |");
    println!("|---|---|---|---|");
    let mut clock = 0_i64;
    for round in 1..=ROUNDS {
        std::thread::scope(|s| {
            for w in 0..STREAMS {
                let j = j.clone();
                s.spawn(move || {
                    let stream = format!("uid-{w}");
                    for d in 0..DECISIONS_PER_ROUND {
                        let at = clock + d as i64 * STEP_MS;
                        let batch: Vec<_> = decision(d)
                            .into_iter()
                            .map(|r| (Timestamp::from_millis(at), r))
                            .collect();
                        let seqs = j.append(&stream, &format!("ns/c{w}"), &batch).unwrap();
                        if j.options().snapshot_due(&seqs) {
                            let state = MachineState {
                                phase: "Ready".into(),
                                desired: vec![4, 2],
                                ready: 6,
                                applied: seqs.end - 1,
                            };
                            j.put_snapshot(
                                &stream,
                                seqs.end - 1,
                                Timestamp::from_millis(at),
                                &state,
                            )
                            .unwrap();
                        }
                    }
                });
            }
        });
        clock += DECISIONS_PER_ROUND as i64 * STEP_MS;
        j.prune(Timestamp::from_millis(clock)).unwrap();
        j.flush().unwrap();
        if round % 4 != 0 {
            continue;
        }
        let retained: u64 = j.streams().unwrap().iter().map(|s| s.count).sum();
        let bytes = j.disk_usage().unwrap();
        println!(
            "| {round} | {retained} | {bytes} | {:.0} |",
            bytes as f64 / retained as f64
        );
    }
    drop(j);
    // sled cleans segments in the background and on reopen.
    let (j, _) = Journal::open(dir.path(), options.clone()).unwrap();
    let retained: u64 = j.streams().unwrap().iter().map(|s| s.count).sum();
    let bytes = j.disk_usage().unwrap();
    println!(
        "| after reopen | {retained} | {bytes} | {:.0} |",
        bytes as f64 / retained as f64
    );
    let mut out = Vec::new();
    j.export(&mut out).unwrap();
    println!(
        "export (JSON lines): {:.0} bytes per entry",
        out.len() as f64 / retained as f64
    );
    drop(j);
    // Offline compaction (a rewrite into a fresh database).
    let report = Journal::compact(dir.path(), options).unwrap();
    println!(
        "| after Journal::compact | {retained} | {} | {:.0} |",
        report.bytes_after,
        report.bytes_after as f64 / retained as f64
    );
}
