//! End-to-end behaviour of the public API on a real directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{Event, State, event, open_clean, ts};
use rayop_journal::{Error, Journal, Options, RecordKind};

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn journal_is_send_sync_and_clone() {
    assert_send_sync_clone::<Journal>();
}

#[test]
fn append_read_and_reopen_keep_contiguous_seqs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let j = open_clean(dir.path(), Options::default());
        let batch: Vec<_> = (1..=3).map(|n| (ts(n as i64), event(n))).collect();
        assert_eq!(j.append("uid-a", "ns/a", &batch).unwrap(), 1..4);
        assert_eq!(j.append_one("uid-a", "ns/a", ts(4), &event(4)).unwrap(), 4);
        assert_eq!(j.append::<Event>("uid-a", "ns/a", &[]).unwrap(), 5..5);
        let got = j.read_from::<Event>("uid-a", 2).unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(got[0].payload, event(2));
        assert_eq!(got[0].ts, ts(2));
        assert_eq!(got[0].version, 1);
    }
    let j = open_clean(dir.path(), Options::default());
    assert_eq!(j.append_one("uid-a", "ns/a", ts(5), &event(5)).unwrap(), 5);
    let all = j.read_from::<Event>("uid-a", 1).unwrap();
    assert_eq!(
        all.iter().map(|e| e.payload.n).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let info = j.stream_info("uid-a").unwrap();
    assert_eq!((info.first_seq, info.last_seq, info.count), (1, 5, 5));
    assert_eq!((info.first_ts, info.last_ts), (Some(ts(1)), Some(ts(5))));
}

#[test]
fn recreated_object_keeps_both_streams_findable() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), Options::default());
    j.append_one("uid-old", "ns/demo", ts(1), &event(1))
        .unwrap();
    j.mark_deleted("uid-old", ts(2)).unwrap();
    j.append_one("uid-new", "ns/demo", ts(3), &event(1))
        .unwrap();
    j.append_one("uid-other", "ns/demo2", ts(3), &event(1))
        .unwrap();
    assert_eq!(j.lookup("ns/demo").unwrap(), vec!["uid-old", "uid-new"]);
    assert_eq!(j.lookup("ns/demo2").unwrap(), vec!["uid-other"]);
    assert!(j.lookup("ns/dem").unwrap().is_empty());
    let streams = j.streams().unwrap();
    assert_eq!(streams.len(), 3);
    let old = streams.iter().find(|s| s.id == "uid-old").unwrap();
    assert_eq!(old.deleted_at, Some(ts(2)));
    // The new stream restarts at seq 1.
    assert_eq!(j.stream_info("uid-new").unwrap().last_seq, 1);
}

#[test]
fn misuse_gives_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), Options::default());
    j.append_one("uid-a", "ns/a", ts(1), &event(1)).unwrap();
    assert!(matches!(
        j.append_one("uid-a", "ns/b", ts(2), &event(2)),
        Err(Error::IndexKeyMismatch { .. })
    ));
    assert!(matches!(
        j.read_from::<Event>("nope", 1),
        Err(Error::UnknownStream { .. })
    ));
    assert!(matches!(
        j.mark_deleted("nope", ts(1)),
        Err(Error::UnknownStream { .. })
    ));
    assert!(matches!(
        j.put_snapshot("uid-a", 2, ts(2), &State { applied: 2 }),
        Err(Error::SnapshotOutOfRange {
            at_seq: 2,
            last_seq: 1,
            ..
        })
    ));
    assert!(matches!(
        j.put_snapshot("uid-a", 0, ts(2), &State { applied: 0 }),
        Err(Error::SnapshotOutOfRange { .. })
    ));
}

#[test]
fn restore_starts_from_the_latest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        snapshot_every: 10,
        ..Options::default()
    };
    let j = open_clean(dir.path(), options);
    let mut state = State { applied: 0 };
    for n in 1..=25 {
        let seqs = j
            .append("uid-s", "ns/s", &[(ts(n), event(n as u64))])
            .unwrap();
        state.applied += 1;
        if j.options().snapshot_due(&seqs) {
            j.put_snapshot("uid-s", seqs.end - 1, ts(n), &state)
                .unwrap();
        }
    }
    let restored = j.restore::<State, Event>("uid-s").unwrap();
    let snap = restored.snapshot.unwrap();
    assert_eq!((snap.at_seq, snap.state.applied), (20, 20));
    assert_eq!(
        restored.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (21..=25).collect::<Vec<_>>()
    );
    assert_eq!(j.stream_info("uid-s").unwrap().snapshot_seq, Some(20));
    let without = j.restore::<State, Event>("uid-s").unwrap();
    assert_eq!(without.entries.len(), 5);
}

#[test]
fn concurrent_appenders_to_one_stream_get_disjoint_contiguous_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), Options::default());
    let ranges = Arc::new(std::sync::Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for t in 0..8_u64 {
            let j = j.clone();
            let ranges = ranges.clone();
            s.spawn(move || {
                for i in 0..20 {
                    let batch = vec![(ts(1), event(t * 100 + i)), (ts(1), event(t * 100 + i))];
                    let r = j.append("uid-c", "ns/c", &batch).unwrap();
                    ranges.lock().unwrap().push(r);
                }
            });
        }
    });
    let mut ranges = ranges.lock().unwrap().clone();
    ranges.sort_by_key(|r| r.start);
    let mut next = 1;
    for r in &ranges {
        assert_eq!(r.start, next);
        assert_eq!(r.end - r.start, 2);
        next = r.end;
    }
    let entries = j.read_from::<Event>("uid-c", 1).unwrap();
    assert_eq!(entries.len(), 320);
    // Both entries of one append are adjacent and identical.
    for pair in entries.chunks(2) {
        assert_eq!(pair[0].payload, pair[1].payload);
    }
    assert!(j.verify().unwrap().is_ok());
}

#[test]
fn quarantined_stream_is_skipped_by_typed_reads_until_cleared() {
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    struct Other {
        different: Vec<u8>,
    }
    impl rayop_journal::Versioned for Other {
        const VERSION: u32 = 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), Options::default());
    j.append_one("uid-q", "ns/q", ts(1), &event(1)).unwrap();
    match j.read_from::<Other>("uid-q", 1) {
        Err(Error::Damaged {
            stream,
            seq: 1,
            record: RecordKind::Entry,
            ..
        }) => {
            assert_eq!(stream, "uid-q")
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
    assert!(matches!(
        j.read_from::<Event>("uid-q", 1),
        Err(Error::Quarantined { seq: 1, .. })
    ));
    let info = j.stream_info("uid-q").unwrap();
    assert_eq!(info.quarantined.as_ref().map(|q| q.seq), Some(1));
    assert!(!j.verify().unwrap().is_ok());
    // Raw reads still work for inspection.
    assert_eq!(j.read_raw_from("uid-q", 1).unwrap().entries.len(), 1);
    j.clear_quarantine("uid-q").unwrap();
    assert_eq!(j.read_from::<Event>("uid-q", 1).unwrap().len(), 1);
    assert!(j.verify().unwrap().is_ok());
}
