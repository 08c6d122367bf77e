//! Property test: random sequences of appends, snapshots, deletions, prunes
//! and reopens against a simple model. After every step the journal must
//! hold exactly the model's retained entries: contiguous, with the right
//! payloads, never pruned past the latest snapshot, the last K or the last T,
//! and pruned as far as the rules allow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Event, State, ts};
use proptest::prelude::*;
use rayop_journal::{Durability, Journal, Options};

const DAY: i64 = 24 * 3600 * 1000;
const K: u64 = 3;
const STREAMS: usize = 3;

fn options() -> Options {
    Options {
        keep_entries: K,
        keep_for: Duration::from_millis(DAY as u64),
        deleted_retention: Duration::from_millis(2 * DAY as u64),
        snapshot_every: 0,
        // The retention logic does not depend on fsync; keep the test fast.
        durability: Durability::SledFlush,
        ..Options::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append { stream: usize, n: u64, advance: i64 },
    Snapshot { stream: usize },
    Delete { stream: usize },
    Prune { advance: i64 },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..STREAMS, 1..4_u64, 0..DAY / 2).prop_map(|(stream, n, advance)| Op::Append { stream, n, advance }),
        2 => (0..STREAMS).prop_map(|stream| Op::Snapshot { stream }),
        1 => (0..STREAMS).prop_map(|stream| Op::Delete { stream }),
        2 => (0..3 * DAY).prop_map(|advance| Op::Prune { advance }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Default, Clone)]
struct ModelStream {
    id: String,
    /// (seq, ts, payload n) of every entry ever appended.
    entries: Vec<(u64, i64, u64)>,
    /// Last seq of each append: the journal prunes whole appends.
    append_ends: Vec<u64>,
    first: u64,
    snapshot: u64,
    deleted_at: Option<i64>,
}

#[derive(Debug, Default)]
struct Model {
    clock: i64,
    counter: u64,
    /// Live (not yet removed) streams per slot, oldest first.
    slots: Vec<Vec<ModelStream>>,
    generations: Vec<u64>,
}

impl Model {
    fn current(&mut self, slot: usize) -> &mut ModelStream {
        let needs_new = self.slots[slot]
            .last()
            .is_none_or(|s| s.deleted_at.is_some());
        if needs_new {
            self.generations[slot] += 1;
            let id = format!("uid-{slot}-{}", self.generations[slot]);
            self.slots[slot].push(ModelStream {
                id,
                first: 1,
                ..ModelStream::default()
            });
        }
        self.slots[slot].last_mut().unwrap()
    }

    fn prune(&mut self, now: i64) {
        for slot in &mut self.slots {
            slot.retain(|s| s.deleted_at.is_none_or(|at| at + 2 * DAY > now));
            for s in slot.iter_mut() {
                let last = s.entries.len() as u64;
                let limit = s.snapshot.min(last.saturating_sub(K));
                // Remove whole appends from the oldest while every entry of
                // the append may go.
                for &end in &s.append_ends {
                    if end < s.first {
                        continue;
                    }
                    let all_old =
                        (s.first..=end).all(|seq| s.entries[(seq - 1) as usize].1 < now - DAY);
                    if end > limit || !all_old {
                        break;
                    }
                    s.first = end + 1;
                }
            }
        }
    }
}

fn check(j: &Journal, model: &Model) -> Result<(), TestCaseError> {
    let mut live = 0;
    for (slot, streams) in model.slots.iter().enumerate() {
        let ids: Vec<String> = streams.iter().map(|s| s.id.clone()).collect();
        prop_assert_eq!(j.lookup(&format!("ns/{slot}")).unwrap(), ids);
        for s in streams {
            live += 1;
            let info = j.stream_info(&s.id).unwrap();
            let last = s.entries.len() as u64;
            prop_assert_eq!(info.last_seq, last, "{}", s.id);
            prop_assert_eq!(
                info.first_seq,
                s.first,
                "{} pruned to the wrong place",
                s.id
            );
            prop_assert_eq!(info.deleted_at, s.deleted_at.map(ts));
            prop_assert_eq!(info.snapshot_seq, (s.snapshot > 0).then_some(s.snapshot));
            // Never past the latest snapshot nor inside the last K.
            prop_assert!(s.first <= s.snapshot + 1);
            prop_assert!(s.first <= last.saturating_sub(K) + 1);
            let raw = j.read_raw_from(&s.id, s.first).unwrap();
            prop_assert!(raw.damage.is_none());
            let got: Vec<(u64, i64, u64)> = raw
                .entries
                .iter()
                .map(|e| {
                    let ev: Event = serde_json::from_str(e.payload.get()).unwrap();
                    (e.seq, e.ts.as_millis(), ev.n)
                })
                .collect();
            prop_assert_eq!(&got[..], &s.entries[(s.first - 1) as usize..]);
        }
    }
    prop_assert_eq!(j.streams().unwrap().len(), live);
    let v = j.verify().unwrap();
    prop_assert!(v.is_ok(), "{:?}", v);
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), options()).unwrap().0;
    let mut model = Model {
        clock: 0,
        counter: 0,
        slots: vec![Vec::new(); STREAMS],
        generations: vec![0; STREAMS],
    };
    for op in ops {
        match op {
            Op::Append { stream, n, advance } => {
                model.clock += advance;
                let clock = model.clock;
                let base = model.counter;
                model.counter += n;
                let s = model.current(stream);
                let batch: Vec<_> = (0..n)
                    .map(|i| {
                        (
                            ts(clock),
                            common::Event {
                                n: base + i,
                                kind: "p".into(),
                            },
                        )
                    })
                    .collect();
                let seqs = j.append(&s.id, &format!("ns/{stream}"), &batch).unwrap();
                let start = s.entries.len() as u64 + 1;
                prop_assert_eq!(seqs.clone(), start..start + n);
                for (i, seq) in seqs.enumerate() {
                    s.entries.push((seq, clock, base + i as u64));
                }
                s.append_ends.push(start + n - 1);
            }
            Op::Snapshot { stream } => {
                if let Some(s) = model.slots[stream].last_mut() {
                    let at = s.entries.len() as u64;
                    if at > 0 {
                        j.put_snapshot(&s.id, at, ts(model.clock), &State { applied: at })
                            .unwrap();
                        s.snapshot = at;
                    }
                }
            }
            Op::Delete { stream } => {
                let clock = model.clock;
                if let Some(s) = model.slots[stream]
                    .last_mut()
                    .filter(|s| s.deleted_at.is_none())
                {
                    j.mark_deleted(&s.id, ts(clock)).unwrap();
                    s.deleted_at = Some(clock);
                }
            }
            Op::Prune { advance } => {
                model.clock += advance;
                j.prune(ts(model.clock)).unwrap();
                model.prune(model.clock);
            }
            Op::Reopen => {
                drop(j);
                let (reopened, report) = Journal::open(dir.path(), options()).unwrap();
                prop_assert!(report.is_clean(), "{:?}", report);
                j = reopened;
            }
        }
        check(&j, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn append_read_prune_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
