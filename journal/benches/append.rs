//! Append benchmarks: single durable append latency, and group-committed
//! throughput with 64 and 256 concurrent writers, with the default
//! durability (sled flush + fsync) and with sled's flush alone (to show the
//! cost of the fsync).
//!
//! Run: `cargo bench -p rayop-journal --bench append`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod payload;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use payload::{Record, decision};
use rayop_journal::{Durability, Journal, Options, Timestamp};

fn open(durability: Durability) -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(
        dir.path(),
        Options {
            durability,
            ..Options::default()
        },
    )
    .unwrap();
    (dir, journal)
}

fn label(d: Durability) -> &'static str {
    match d {
        Durability::Fsync => "fsync",
        Durability::SledFlush => "sled_flush",
    }
}

fn single_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_durable_append");
    group.throughput(Throughput::Elements(1));
    for durability in [Durability::Fsync, Durability::SledFlush] {
        let (_dir, j) = open(durability);
        let mut n = 0_u64;
        group.bench_function(label(durability), |b| {
            b.iter(|| {
                n += 1;
                let [event, _, _] = decision(n);
                j.append_one(
                    "uid-bench",
                    "ns/bench",
                    Timestamp::from_millis(n as i64),
                    &event,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

/// `writers` threads over 64 streams; each append carries `per_append`
/// entries (1, or 3 = one operator decision). Reports entries/s.
fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_commit");
    for durability in [Durability::Fsync, Durability::SledFlush] {
        for writers in [64_u64, 256] {
            for per_append in [1_u64, 3] {
                let (_dir, j) = open(durability);
                group.throughput(Throughput::Elements(per_append));
                let name = format!(
                    "{}/{writers}_writers/{per_append}_per_append",
                    label(durability)
                );
                group.bench_function(name, |b| {
                    b.iter_custom(|iters| {
                        let per_writer = iters.div_ceil(writers);
                        let start = Instant::now();
                        std::thread::scope(|s| {
                            for w in 0..writers {
                                let j = j.clone();
                                s.spawn(move || {
                                    let stream = format!("uid-{}", w % 64);
                                    let index = format!("ns/c{}", w % 64);
                                    for i in 0..per_writer {
                                        let batch: Vec<(Timestamp, Record)> = decision(i)
                                            .into_iter()
                                            .take(per_append as usize)
                                            .map(|r| (Timestamp::from_millis(i as i64), r))
                                            .collect();
                                        j.append(&stream, &index, &batch).unwrap();
                                    }
                                });
                            }
                        });
                        let elapsed = start.elapsed();
                        // Scale to exactly `iters` appends.
                        elapsed.mul_f64(iters as f64 / (per_writer * writers) as f64)
                    })
                });
                eprintln!(
                    "  {}: {} appends used {} flushes",
                    label(durability),
                    j.durable_waits(),
                    j.flush_count()
                );
            }
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = single_append, group_commit
}
criterion_main!(benches);
