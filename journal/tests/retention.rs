//! Retention and bounded disk.
//!
//! The churn test creates streams, appends, snapshots, deletes and prunes in
//! a loop and measures the database directory. It asserts a bound on the
//! late rounds that a control run *without pruning* exceeds, so the bound
//! proves pruning (and sled's segment reuse) is what keeps the disk flat.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Event, State, event, open_clean, ts};
use rayop_journal::{Error, Journal, Options};

const DAY_MS: i64 = 24 * 3600 * 1000;

fn options() -> Options {
    Options {
        keep_entries: 20,
        keep_for: Duration::from_secs(24 * 3600),
        deleted_retention: Duration::from_secs(2 * 24 * 3600),
        snapshot_every: 10,
        ..Options::default()
    }
}

fn append_with_snapshots(j: &Journal, id: &str, index: &str, n: u64, at: i64) {
    for i in 0..n {
        let seqs = j
            .append(id, index, &[(ts(at + i as i64), event(i))])
            .unwrap();
        if j.options().snapshot_due(&seqs) {
            j.put_snapshot(
                id,
                seqs.end - 1,
                ts(at),
                &State {
                    applied: seqs.end - 1,
                },
            )
            .unwrap();
        }
    }
}

#[test]
fn live_stream_keeps_last_k_or_last_t_whichever_keeps_more() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), options());
    // 100 entries at day 0, then 5 at day 10.
    append_with_snapshots(&j, "uid-a", "ns/a", 100, 0);
    append_with_snapshots(&j, "uid-a", "ns/a", 5, 10 * DAY_MS);
    // As of day 10: only the 5 recent entries are within T, but K = 20 keeps
    // more; the latest snapshot is at 100, so everything up to 85 goes.
    let report = j.prune(ts(10 * DAY_MS + 100)).unwrap();
    let info = j.stream_info("uid-a").unwrap();
    assert_eq!((info.first_seq, info.last_seq, info.count), (86, 105, 20));
    assert_eq!(report.entries_removed, 85);
    assert_eq!(info.snapshot_seq, Some(100));
    assert!(
        report.snapshots_removed >= 9,
        "older snapshots are dropped: {report:?}"
    );
    // Restore still works from the snapshot, and early reads say "pruned".
    let restored = j.restore::<State, Event>("uid-a").unwrap();
    assert_eq!(restored.snapshot.unwrap().at_seq, 100);
    assert_eq!(restored.entries.len(), 5);
    assert!(matches!(
        j.read_from::<Event>("uid-a", 1),
        Err(Error::Pruned {
            first_available: 86,
            ..
        })
    ));
    assert!(j.verify().unwrap().is_ok());

    // T keeps more than K: 60 entries all stamped "now" stay.
    append_with_snapshots(&j, "uid-b", "ns/b", 60, 20 * DAY_MS);
    j.prune(ts(20 * DAY_MS + 1000)).unwrap();
    assert_eq!(j.stream_info("uid-b").unwrap().count, 60);
}

#[test]
fn pruning_never_passes_the_latest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(
        dir.path(),
        Options {
            snapshot_every: 0,
            ..options()
        },
    );
    for i in 0..50 {
        j.append_one("uid-n", "ns/n", ts(i), &event(i as u64))
            .unwrap();
    }
    // No snapshot at all: nothing may go, whatever K and T say.
    assert_eq!(j.prune(ts(100 * DAY_MS)).unwrap().entries_removed, 0);
    j.put_snapshot("uid-n", 10, ts(10), &State { applied: 10 })
        .unwrap();
    j.prune(ts(100 * DAY_MS)).unwrap();
    let info = j.stream_info("uid-n").unwrap();
    assert_eq!(info.first_seq, 11, "entries after the snapshot stay");
    assert!(j.verify().unwrap().is_ok());
}

#[test]
fn deleted_streams_are_removed_after_their_window_including_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), options());
    append_with_snapshots(&j, "uid-old", "ns/x", 30, 0);
    j.mark_deleted("uid-old", ts(DAY_MS)).unwrap();
    append_with_snapshots(&j, "uid-new", "ns/x", 5, DAY_MS);
    // Inside the window: still listed and findable.
    assert!(j.prune(ts(2 * DAY_MS)).unwrap().streams_removed.is_empty());
    assert_eq!(j.lookup("ns/x").unwrap(), vec!["uid-old", "uid-new"]);
    // Past it: gone, entries, snapshots, index row and all.
    let report = j.prune(ts(3 * DAY_MS)).unwrap();
    assert_eq!(report.streams_removed, vec!["uid-old".to_string()]);
    assert_eq!(j.lookup("ns/x").unwrap(), vec!["uid-new"]);
    assert!(matches!(
        j.stream_info("uid-old"),
        Err(Error::UnknownStream { .. })
    ));
    let v = j.verify().unwrap();
    assert!(v.is_ok(), "{v:?}");
    drop(j);
    let j = open_clean(dir.path(), options());
    assert_eq!(j.streams().unwrap().len(), 1);
}

/// One round of churn: 8 new streams of 100 entries (appended 10 at a time,
/// a snapshot after each append), deleted right away, then a prune three
/// days later, when every earlier round's streams have expired.
fn churn(j: &Journal, round: i64, prune: bool) {
    let day = round * 3 * DAY_MS;
    for s in 0..8 {
        let id = format!("uid-{round}-{s}");
        for chunk in 0..10_u64 {
            let batch: Vec<_> = (0..10)
                .map(|i| (ts(day + i), event(chunk * 10 + i as u64)))
                .collect();
            let seqs = j.append(&id, &format!("ns/c{s}"), &batch).unwrap();
            j.put_snapshot(
                &id,
                seqs.end - 1,
                ts(day),
                &State {
                    applied: seqs.end - 1,
                },
            )
            .unwrap();
        }
        j.mark_deleted(&id, ts(day + 1000)).unwrap();
    }
    if prune {
        j.prune(ts(day + 3 * DAY_MS - 1)).unwrap();
    }
}

fn measure(prune: bool, rounds: i64) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), options());
    (0..rounds)
        .map(|round| {
            churn(&j, round, prune);
            j.flush().unwrap();
            j.disk_usage().unwrap()
        })
        .collect()
}

#[test]
fn disk_use_stays_bounded_under_endless_churn() {
    let sizes = measure(true, 50);
    eprintln!("with pruning, db bytes per round: {sizes:?}");
    let warm = *sizes[5..15].iter().max().unwrap();
    let late = *sizes[30..].iter().max().unwrap();
    // Bounded: the late rounds are no bigger than 1.5x the warmed-up size.
    let bound = warm + warm / 2;
    assert!(
        late <= bound,
        "disk grew under churn: warm {warm}, late {late}"
    );

    // Control: without pruning the same churn exceeds that bound, so the
    // assertion above would fail if pruning were removed.
    let control = measure(false, 30);
    eprintln!("without pruning, db bytes per round: {control:?}");
    assert!(
        *control.last().unwrap() > bound,
        "control run did not outgrow the bound ({bound}); the test proves nothing"
    );
}
