//! Schema versions: entries and snapshots written at version 1 (a stored
//! fixture, `fixtures/v1-export.jsonl`) are read back by version-2 types
//! through their upcasters.
//!
//! The fixture was produced by [`write_fixture`] with the version-1 types
//! below; it is committed and must not be regenerated casually — it stands
//! for journals already on disk. Set `RAYOP_JOURNAL_WRITE_FIXTURE=1` to
//! rewrite it (only when the export format itself changes on purpose).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::ts;
use rayop_journal::{DecodeError, Error, Journal, Options, UpcastError, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod v1 {
    use super::*;

    /// Version 1 of an event: a flat replica count.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ScaleEvent {
        pub cluster: String,
        pub replicas: u32,
    }
    impl Versioned for ScaleEvent {
        const VERSION: u32 = 1;
    }

    /// Version 1 of a snapshot.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ClusterState {
        pub phase: String,
    }
    impl Versioned for ClusterState {
        const VERSION: u32 = 1;
    }
}

/// Version 2 of the event: replicas became a worker group with bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ScaleEvent {
    cluster: String,
    workers: Workers,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Workers {
    desired: u32,
    min: u32,
}

impl Versioned for ScaleEvent {
    const VERSION: u32 = 2;
    fn upcast(from: u32, mut value: Value) -> Result<Value, UpcastError> {
        if from != 1 {
            return Err(UpcastError::Unsupported {
                from,
                to: Self::VERSION,
            });
        }
        let obj = value.as_object_mut().ok_or(UpcastError::Malformed {
            from,
            reason: "not an object".into(),
        })?;
        let replicas = obj.remove("replicas").ok_or(UpcastError::Malformed {
            from,
            reason: "no replicas".into(),
        })?;
        obj.insert(
            "workers".into(),
            serde_json::json!({ "desired": replicas, "min": 0 }),
        );
        Ok(value)
    }
}

/// Version 2 of the snapshot: adds a generation counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ClusterState {
    phase: String,
    generation: u64,
}

impl Versioned for ClusterState {
    const VERSION: u32 = 2;
    fn upcast(from: u32, mut value: Value) -> Result<Value, UpcastError> {
        match (from, value.as_object_mut()) {
            (1, Some(obj)) => {
                obj.insert("generation".into(), Value::from(0));
                Ok(value)
            }
            _ => Err(UpcastError::Unsupported {
                from,
                to: Self::VERSION,
            }),
        }
    }
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-export.jsonl")
}

/// Rewrites the fixture with the version-1 types (only on request).
#[test]
fn write_fixture() {
    if std::env::var("RAYOP_JOURNAL_WRITE_FIXTURE").is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(dir.path(), Options::default()).unwrap();
    for (n, replicas) in [(1_u32, 1_u32), (2, 3), (3, 5)] {
        let e = v1::ScaleEvent {
            cluster: "demo".into(),
            replicas,
        };
        j.append_one(
            "uid-v1",
            "default/demo",
            ts(1_700_000_000_000 + i64::from(n)),
            &e,
        )
        .unwrap();
    }
    j.put_snapshot(
        "uid-v1",
        2,
        ts(1_700_000_000_002),
        &v1::ClusterState {
            phase: "Ready".into(),
        },
    )
    .unwrap();
    let mut out = Vec::new();
    j.export(&mut out).unwrap();
    std::fs::write(fixture(), out).unwrap();
}

fn import_fixture() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(dir.path(), Options::default()).unwrap();
    let file = std::fs::File::open(fixture()).unwrap();
    let summary = j.import(std::io::BufReader::new(file)).unwrap();
    assert_eq!(
        (summary.streams, summary.entries, summary.snapshots),
        (1, 3, 1)
    );
    (dir, j)
}

#[test]
fn version_1_entries_and_snapshots_are_upcast_on_read() {
    let (_dir, j) = import_fixture();
    let entries = j.read_from::<ScaleEvent>("uid-v1", 1).unwrap();
    let desired: Vec<u32> = entries.iter().map(|e| e.payload.workers.desired).collect();
    assert_eq!(desired, vec![1, 3, 5]);
    assert!(
        entries
            .iter()
            .all(|e| e.version == 1 && e.payload.workers.min == 0)
    );
    assert_eq!(entries[0].ts, ts(1_700_000_000_001));

    let restored = j.restore::<ClusterState, ScaleEvent>("uid-v1").unwrap();
    let snapshot = restored.snapshot.unwrap();
    assert_eq!(
        snapshot.state,
        ClusterState {
            phase: "Ready".into(),
            generation: 0
        }
    );
    assert_eq!((snapshot.at_seq, snapshot.version), (2, 1));
    assert_eq!(restored.entries.len(), 1);

    // New entries are written at version 2 and read back without upcasting,
    // in the same stream.
    let v2 = ScaleEvent {
        cluster: "demo".into(),
        workers: Workers { desired: 7, min: 2 },
    };
    assert_eq!(
        j.append_one("uid-v1", "default/demo", ts(1_700_000_000_010), &v2)
            .unwrap(),
        4
    );
    let last = j.read_from::<ScaleEvent>("uid-v1", 4).unwrap();
    assert_eq!((last[0].version, &last[0].payload), (2, &v2));
}

#[test]
fn an_old_reader_refuses_newer_entries() {
    let (_dir, j) = import_fixture();
    let v2 = ScaleEvent {
        cluster: "demo".into(),
        workers: Workers { desired: 7, min: 2 },
    };
    j.append_one("uid-v1", "default/demo", ts(1_700_000_000_010), &v2)
        .unwrap();
    match j.read_from::<v1::ScaleEvent>("uid-v1", 4) {
        Err(Error::Damaged { seq: 4, cause, .. }) => assert_eq!(
            cause,
            rayop_journal::DamageCause::Decode(DecodeError::NewerVersion {
                found: 2,
                current: 1
            })
        ),
        other => panic!("expected a newer-version error, got {other:?}"),
    }
}

#[test]
fn the_fixture_round_trips_exactly() {
    let (_dir, j) = import_fixture();
    let mut out = Vec::new();
    j.export(&mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        std::fs::read_to_string(fixture()).unwrap()
    );
}
