//! Integrity check of a whole journal, for the `verify` command and tests.
//!
//! Checks, per stream: contiguous sequence numbers over the retained range
//! up to `last_seq`; every entry and snapshot has a valid envelope and JSON
//! payload; the latest snapshot lies within `first_seq - 1 ..= last_seq`;
//! a stream whose beginning was pruned has a snapshot; the index row exists.
//! Across the journal: entries, snapshots and index rows that belong to no
//! known stream.
//!
//! Invariant: `verify` only reads. It reports quarantines but does not
//! quarantine by itself, so it is safe to run on a copy or while serving.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::envelope;
use crate::error::{DamageCause, Error, RecordKind, Result};
use crate::keys::{index_row, split_index_row, split_seq_key, stream_prefix};
use crate::read::Damage;
use crate::records::{first_available, scan_entries};
use crate::store::{Store, lock_state};
use crate::stream::{Quarantine, StreamState};

/// One problem found by [`crate::Journal::verify`]; serialized with a snake_case `problem` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// A record is damaged or a seq is missing.
    Damaged(Damage),
    /// The latest snapshot is past the stream's last entry.
    SnapshotAfterEnd {
        /// The seq the snapshot follows; greater than `last_seq`.
        at_seq: u64,
        /// The stream's last appended seq.
        last_seq: u64,
    },
    /// Entries between the latest snapshot and the first retained entry are
    /// missing, so replay from the snapshot is impossible.
    SnapshotBeforeRetained {
        /// The seq the snapshot follows; entries `at_seq + 1 .. first_seq` are gone.
        at_seq: u64,
        /// The oldest stored entry's seq; more than `at_seq + 1`.
        first_seq: u64,
    },
    /// The stream's beginning is gone and there is no snapshot to start from.
    PrunedWithoutSnapshot {
        /// The oldest stored entry's seq; above 1, so entries `1 .. first_seq` are gone.
        first_seq: u64,
    },
    /// The stream is quarantined: typed reads refuse it until `clear_quarantine`.
    Quarantined(Quarantine),
    /// The index row for the stream's index key is missing.
    MissingIndexRow,
}

/// The checks of one stream; `problems` is empty when it is sound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamCheck {
    /// The stream id as the caller named it (rayop: the cluster's UID).
    pub id: String,
    /// Retained entries scanned in this stream.
    pub entries: u64,
    /// What is wrong (empty if the stream is sound).
    pub problems: Vec<Problem>,
}

/// The result of [`crate::Journal::verify`]; it only reads and quarantines nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// One check per stream, ordered by id.
    pub streams: Vec<StreamCheck>,
    /// Records that belong to no known stream, described.
    pub orphans: Vec<String>,
}

impl VerifyReport {
    /// True if no stream has a problem and nothing is orphaned.
    pub fn is_ok(&self) -> bool {
        self.orphans.is_empty() && self.streams.iter().all(|s| s.problems.is_empty())
    }

    /// Retained entries scanned, summed over all streams.
    pub fn entries(&self) -> u64 {
        self.streams.iter().map(|s| s.entries).sum()
    }
}

/// Checks the integrity of every stream (see the module docs).
pub(crate) fn verify(store: &Store) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let handles = store.handles();
    let mut known = BTreeSet::new();
    for handle in &handles {
        let st = lock_state(handle);
        known.insert(st.meta.no);
        report.streams.push(check_stream(store, &st)?);
    }
    find_orphans(store, &known, &mut report)?;
    Ok(report)
}

fn check_stream(store: &Store, st: &StreamState) -> Result<StreamCheck> {
    let trees = store.trees();
    let mut check = StreamCheck {
        id: st.id.clone(),
        entries: 0,
        problems: Vec::new(),
    };
    let err = |e| Error::storage(format!("verify stream {}", st.id), e);
    if let Some(q) = &st.meta.quarantine {
        check.problems.push(Problem::Quarantined(q.clone()));
    }
    if !trees
        .index
        .contains_key(index_row(&st.meta.index_key, &st.id))
        .map_err(err)?
    {
        check.problems.push(Problem::MissingIndexRow);
    }
    let first_seq = first_available(trees, st)?;
    let mut entries = 0;
    let damage = scan_entries(trees, st, first_seq, |_, d| {
        envelope::check_json(d.payload)?;
        entries += 1;
        Ok(())
    })?;
    check.entries = entries;
    if let Some((seq, cause)) = damage {
        check.problems.push(Problem::Damaged(Damage {
            record: RecordKind::Entry,
            seq,
            reason: cause.to_string(),
        }));
    }
    let mut latest = None;
    for row in trees.snapshots.scan_prefix(stream_prefix(st.meta.no)) {
        let (key, value) = row.map_err(err)?;
        let at = split_seq_key(&key).map_or(0, |(_, s)| s);
        let decoded = envelope::decode(&value)
            .map_err(DamageCause::from)
            .and_then(|d| envelope::check_json(d.payload).map_err(DamageCause::from));
        if let Err(cause) = decoded {
            check.problems.push(Problem::Damaged(Damage {
                record: RecordKind::Snapshot,
                seq: at,
                reason: cause.to_string(),
            }));
        }
        latest = Some(at);
    }
    match latest {
        Some(at) if at > st.last_seq => check.problems.push(Problem::SnapshotAfterEnd {
            at_seq: at,
            last_seq: st.last_seq,
        }),
        Some(at) if at + 1 < first_seq => check.problems.push(Problem::SnapshotBeforeRetained {
            at_seq: at,
            first_seq,
        }),
        None if first_seq > 1 => check
            .problems
            .push(Problem::PrunedWithoutSnapshot { first_seq }),
        _ => {}
    }
    Ok(check)
}

fn find_orphans(store: &Store, known: &BTreeSet<u64>, report: &mut VerifyReport) -> Result<()> {
    let trees = store.trees();
    let err = |e| Error::storage("verify orphans", e);
    for (name, tree) in [("entry", &trees.entries), ("snapshot", &trees.snapshots)] {
        let mut last_orphan = None;
        for row in tree.iter().keys() {
            let key = row.map_err(err)?;
            match split_seq_key(&key) {
                Some((no, seq)) if !known.contains(&no) => {
                    if last_orphan != Some(no) {
                        report.orphans.push(format!(
                            "{name} records of unknown stream number {no} (first seq {seq})"
                        ));
                        last_orphan = Some(no);
                    }
                }
                Some(_) => {}
                None => report
                    .orphans
                    .push(format!("{name} key of bad length {}", key.len())),
            }
        }
    }
    let registry = store.registry_read();
    for row in trees.index.iter().keys() {
        let key = row.map_err(err)?;
        match split_index_row(&key) {
            Some((index_key, id)) if !registry.contains_key(&id) => report
                .orphans
                .push(format!("index row {index_key} -> unknown stream {id}")),
            Some(_) => {}
            None => report.orphans.push("malformed index row".to_string()),
        }
    }
    Ok(())
}
