//! Group commit under many concurrent writers: every acknowledged entry is
//! present, sequences are contiguous per stream, and one flush covers many
//! appends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;

use common::{Event, event, open_clean, ts};
use rayop_journal::Options;

#[test]
fn many_concurrent_writers_share_flushes_and_lose_nothing() {
    const WRITERS: u64 = 64;
    const APPENDS: u64 = 20;
    const STREAMS: u64 = 8;
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), Options::default());
    let flushes_before = j.flush_count();
    let acked: Mutex<BTreeMap<(String, u64), u64>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let j = j.clone();
            let acked = &acked;
            s.spawn(move || {
                let stream = format!("uid-{}", w % STREAMS);
                for i in 0..APPENDS {
                    let n = w * 1000 + i;
                    let seq = j
                        .append_one(&stream, &format!("ns/{stream}"), ts(1), &event(n))
                        .unwrap();
                    acked.lock().unwrap().insert((stream.clone(), seq), n);
                }
            });
        }
    });
    let acked = acked.into_inner().unwrap();
    assert_eq!(
        acked.len() as u64,
        WRITERS * APPENDS,
        "no seq was handed out twice"
    );
    for s in 0..STREAMS {
        let stream = format!("uid-{s}");
        let entries = j.read_from::<Event>(&stream, 1).unwrap();
        assert_eq!(entries.len() as u64, WRITERS / STREAMS * APPENDS);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1, "contiguous");
            assert_eq!(
                acked[&(stream.clone(), e.seq)],
                e.payload.n,
                "acknowledged payload"
            );
        }
    }
    let flushes = j.flush_count() - flushes_before;
    let appends = WRITERS * APPENDS;
    eprintln!("{appends} durable appends took {flushes} flushes");
    assert!(
        flushes < appends,
        "group commit shared no flush: {flushes} flushes for {appends} appends"
    );
    assert!(j.verify().unwrap().is_ok());
}
