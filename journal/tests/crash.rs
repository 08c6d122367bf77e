//! Crash safety: a child process appends in a loop and is killed with
//! SIGKILL at random points, many times. After every kill the parent reopens
//! the journal and checks that every acknowledged entry is there, sequences
//! are contiguous, nothing is corrupt, and nothing panicked.
//!
//! The child also prunes with a small retention every 20 appends, so kills
//! land inside prunes too; then an acknowledged entry may be missing only
//! where retention allows it (at or before the snapshot, outside the last K).
//!
//! The child is this test binary re-executed with `RAYOP_JOURNAL_CHILD` set
//! (see [`child_process_entry`]); with the variable unset that test is a
//! no-op.
//!
//! SIGKILL kills the process, not the machine: it proves the journal's own
//! logic (atomic batches, seq assignment, recovery, no torn acknowledgements)
//! but not the device cache flush, which is what the fsync in
//! `durability.rs` is for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Event, State, ts};
use rayop_journal::{Error, Journal, Options};

const CHILD_ENV: &str = "RAYOP_JOURNAL_CHILD";
const DIR_ENV: &str = "RAYOP_JOURNAL_CHILD_DIR";
const WRITERS: u64 = 3;

/// Small retention so that the child's prunes remove data while it is
/// killed: a crash in the middle of a prune is exercised too.
const KEEP: u64 = 30;

fn options() -> Options {
    Options {
        snapshot_every: 25,
        keep_entries: KEEP,
        keep_for: std::time::Duration::ZERO,
        ..Options::default()
    }
}

/// Child-process mode (a no-op unless re-executed by the tests below).
///
/// - `append`: `WRITERS` threads append to their own streams forever and
///   print `ACK <stream> <seq> <counter>` after each append returns;
/// - `hold`: append 200 entries, print `HELD`, then hold the journal open
///   until stdin closes.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::env::var(DIR_ENV).expect("child needs a directory");
    let (journal, _report) = Journal::open(&dir, options()).expect("child open");
    match mode.as_str() {
        "append" => child_append(&journal),
        "hold" => {
            for n in 1..=200 {
                journal
                    .append_one("uid-held", "ns/held", ts(n), &common::event(n as u64))
                    .unwrap();
            }
            // Written to the real stdout: the test harness captures `println!`.
            let mut out = std::io::stdout().lock();
            writeln!(out, "HELD").unwrap();
            out.flush().unwrap();
            drop(out);
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        }
        other => panic!("unknown child mode {other}"),
    }
    std::process::exit(0);
}

fn child_append(journal: &Journal) {
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let journal = journal.clone();
            s.spawn(move || {
                let stream = format!("uid-{w}");
                let index = format!("ns/crash-{w}");
                // Resume counting after what the previous children wrote.
                let mut counter = journal
                    .stream_info(&stream)
                    .map(|i| i.last_seq)
                    .unwrap_or(0);
                loop {
                    counter += 1;
                    let batch_len = 1 + counter % 3;
                    let batch: Vec<_> = (0..batch_len)
                        .map(|i| {
                            (
                                ts(counter as i64),
                                Event {
                                    n: counter * 10 + i,
                                    kind: "crash".into(),
                                },
                            )
                        })
                        .collect();
                    let seqs = journal.append(&stream, &index, &batch).unwrap();
                    if journal.options().snapshot_due(&seqs) {
                        journal
                            .put_snapshot(
                                &stream,
                                seqs.end - 1,
                                ts(counter as i64),
                                &State {
                                    applied: seqs.end - 1,
                                },
                            )
                            .unwrap();
                    }
                    if w == 0 && counter.is_multiple_of(20) {
                        journal.prune(ts(counter as i64)).unwrap();
                    }
                    let mut out = std::io::stdout().lock();
                    for (i, seq) in seqs.enumerate() {
                        writeln!(out, "ACK {stream} {seq} {}", counter * 10 + i as u64).unwrap();
                    }
                    out.flush().unwrap();
                }
            });
        }
    });
}

fn spawn_child(mode: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Tiny deterministic PRNG so a failing seed can be replayed.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_at_random_points_never_loses_an_acknowledged_entry() {
    let rounds: usize = std::env::var("RAYOP_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let seed = std::env::var("RAYOP_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test: {rounds} rounds, RAYOP_CRASH_SEED={seed}");
    let mut rng = XorShift(seed);
    let dir = tempfile::tempdir().unwrap();
    // stream -> seq -> payload counter, for every acknowledged entry.
    let mut acked: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = spawn_child("append", dir.path());
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill after a random number of acknowledgements (0 = right after
        // the first output, while the child may still be opening).
        let kill_after = rng.next() % 400;
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen < kill_after {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    if record_ack(&line, &mut acked) {
                        seen += 1;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    assert!(
                        Instant::now() < deadline,
                        "child made no progress in round {round}"
                    );
                    if let Some(status) = child.try_wait().unwrap() {
                        panic!(
                            "child exited early in round {round}: {status} {}",
                            stderr_of(&mut child)
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "child closed stdout in round {round}: {}",
                        stderr_of(&mut child)
                    )
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "child should have been killed");
        // Acknowledgements printed before the kill are still in the pipe.
        reader.join().unwrap();
        for line in rx.try_iter() {
            record_ack(&line, &mut acked);
        }
        let stderr = stderr_of(&mut child);
        assert!(
            !stderr.contains("panicked"),
            "child panicked in round {round}: {stderr}"
        );
        check_after_crash(dir.path(), &acked, round);
    }
    let total: usize = acked.values().map(BTreeMap::len).sum();
    eprintln!(
        "crash test: {total} acknowledged entries survived {rounds} SIGKILLs in {:?}",
        started.elapsed()
    );
    assert!(total > 0);
    // The kills also landed among prunes that removed data.
    let (journal, _) = Journal::open(dir.path(), options()).unwrap();
    let pruned = journal
        .streams()
        .unwrap()
        .iter()
        .filter(|s| s.first_seq > 1)
        .count();
    assert!(pruned > 0, "the child's prunes never removed anything");
}

fn record_ack(line: &str, acked: &mut BTreeMap<String, BTreeMap<u64, u64>>) -> bool {
    // The first line may start with libtest's "test child_process_entry ... ".
    let Some(start) = line.find("ACK ") else {
        return false;
    };
    let mut parts = line[start..].split_whitespace();
    parts.next();
    let (Some(stream), Some(seq), Some(counter)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    acked
        .entry(stream.to_string())
        .or_default()
        .insert(seq.parse().unwrap(), counter.parse().unwrap());
    true
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut s);
    }
    s
}

fn check_after_crash(dir: &Path, acked: &BTreeMap<String, BTreeMap<u64, u64>>, round: usize) {
    let (journal, report) =
        Journal::open(dir, options()).unwrap_or_else(|e| panic!("reopen after round {round}: {e}"));
    assert!(report.is_clean(), "round {round}: {report:?}");
    let verify = journal.verify().unwrap();
    assert!(verify.is_ok(), "round {round}: {verify:?}");
    for (stream, seqs) in acked {
        let info = journal.stream_info(stream).unwrap();
        let snapshot = info.snapshot_seq.unwrap_or(0);
        let entries = journal
            .read_from::<Event>(stream, info.first_seq)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(
                e.seq,
                info.first_seq + i as u64,
                "round {round}: {stream} not contiguous"
            );
        }
        assert_eq!(entries.last().map_or(0, |e| e.seq), info.last_seq);
        for (&seq, &counter) in seqs {
            if seq < info.first_seq {
                // Pruned: only allowed at or before the snapshot and outside
                // the last K.
                assert!(
                    seq <= snapshot && seq + KEEP <= info.last_seq,
                    "round {round}: acknowledged {stream} seq {seq} lost ({info:?})"
                );
                continue;
            }
            let entry = &entries[(seq - info.first_seq) as usize];
            assert_eq!(
                entry.payload.n, counter,
                "round {round}: {stream} seq {seq} has the wrong payload"
            );
        }
        if let Some(snapshot) = journal.latest_snapshot::<State>(stream).unwrap() {
            assert_eq!(snapshot.state.applied, snapshot.at_seq);
            assert!(snapshot.at_seq <= info.last_seq && snapshot.at_seq + 1 >= info.first_seq);
        }
    }
}

#[test]
fn a_journal_held_by_another_process_names_the_holder_and_a_copy_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("hold", dir.path());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            // libtest may print "test child_process_entry ... " on the same line.
            Some(Ok(line)) if line.ends_with("HELD") => break,
            Some(Ok(_)) => continue,
            other => panic!("holder did not start: {other:?} {}", stderr_of(&mut child)),
        }
    }
    match Journal::open(dir.path(), options()) {
        Err(err @ Error::Locked { .. }) => {
            let Error::Locked {
                holder: Some(owner),
                ..
            } = &err
            else {
                unreachable!()
            };
            assert_eq!(owner.pid, child.id());
            let msg = err.to_string();
            assert!(msg.contains(&format!("pid {}", child.id())), "{msg}");
            assert!(msg.contains("/debug/journal/<namespace>/<name>"), "{msg}");
            assert!(msg.contains("copy the directory"), "{msg}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // A copy of the live directory carries no lock and opens.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    {
        let (journal, report) = Journal::open(copy.path(), options()).unwrap();
        assert!(report.moved_aside.is_none(), "{report:?}");
        assert_eq!(
            journal.read_from::<Event>("uid-held", 1).unwrap().len(),
            200
        );
        assert!(journal.verify().unwrap().is_ok());
    }
    drop(child.stdin.take()); // the holder exits when stdin closes
    assert!(child.wait().unwrap().success());
    let (journal, _) = Journal::open(dir.path(), options()).unwrap();
    assert_eq!(journal.stream_info("uid-held").unwrap().last_seq, 200);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
