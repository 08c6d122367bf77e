//! Damage is reported, never a panic: corrupt, truncated and garbage files,
//! undecodable payloads, gaps and bad metadata each give a clear error or a
//! move-aside with a fresh journal, and `DamagePolicy::Report` changes
//! nothing on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use common::{Event, State, event, open_clean, ts};
use rayop_journal::{
    DB_DIR, DamageCause, DamagePolicy, EnvelopeError, Error, Journal, Options, Problem, RecordKind,
};

const STREAMS: u64 = 4;
const PER_STREAM: u64 = 150;

fn populate(dir: &Path) {
    let j = open_clean(dir, Options::default());
    for s in 0..STREAMS {
        let id = format!("uid-{s}");
        for n in 1..=PER_STREAM {
            j.append_one(&id, &format!("ns/{s}"), ts(n as i64), &event(n))
                .unwrap();
        }
        j.put_snapshot(&id, 100, ts(100), &State { applied: 100 })
            .unwrap();
    }
}

fn db_file(dir: &Path) -> PathBuf {
    dir.join(DB_DIR).join("db")
}

fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(bytes).unwrap();
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(listing(&entry.path()));
        } else {
            out.push((entry.path(), entry.metadata().unwrap().len()));
        }
    }
    out.sort();
    out
}

fn all_entries_present(j: &Journal) -> bool {
    (0..STREAMS).all(|s| {
        j.read_from::<Event>(&format!("uid-{s}"), 1)
            .map(|e| e.len() as u64 == PER_STREAM)
            .unwrap_or(false)
    })
}

/// Damage that loses data is detected: moved aside, fresh journal, usable.
fn assert_moved_aside_and_fresh(dir: &Path, case: &str) {
    let (j, report) = Journal::open(dir, Options::default())
        .unwrap_or_else(|e| panic!("{case}: open failed instead of moving aside: {e}"));
    let moved = report
        .moved_aside
        .clone()
        .unwrap_or_else(|| panic!("{case}: not moved aside"));
    assert!(!moved.reason.is_empty());
    assert!(
        moved.to.join("db").exists(),
        "{case}: evidence kept at {}",
        moved.to.display()
    );
    assert_eq!(report.streams, 0, "{case}");
    assert!(j.streams().unwrap().is_empty());
    assert_eq!(
        j.append_one("uid-new", "ns/new", ts(1), &event(1)).unwrap(),
        1
    );
    assert!(j.verify().unwrap().is_ok());
    drop(j);
    let j = open_clean(dir, Options::default());
    assert_eq!(j.read_from::<Event>("uid-new", 1).unwrap().len(), 1);
}

#[test]
fn damaged_database_files_are_moved_aside_and_a_fresh_journal_starts() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage); 7] = [
        ("garbage over the whole db file", |d| {
            let len = std::fs::metadata(db_file(d)).unwrap().len();
            let garbage: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            std::fs::write(db_file(d), garbage).unwrap();
        }),
        ("db file truncated to 0", |d| truncate(&db_file(d), 0)),
        ("db file truncated to 100 bytes", |d| {
            truncate(&db_file(d), 100)
        }),
        ("db file truncated to half", |d| {
            truncate(
                &db_file(d),
                std::fs::metadata(db_file(d)).unwrap().len() / 2,
            )
        }),
        ("bytes overwritten mid-file", |d| {
            let len = std::fs::metadata(db_file(d)).unwrap().len();
            overwrite(&db_file(d), len / 2, &[0xAB; 64]);
        }),
        ("bytes overwritten near the start", |d| {
            overwrite(&db_file(d), 20, &[0xAB; 64])
        }),
        ("garbage config file", |d| {
            std::fs::write(d.join(DB_DIR).join("conf"), b"\x00\xffnot a config").unwrap()
        }),
    ];
    for (case, damage) in cases {
        let dir = tempfile::tempdir().unwrap();
        populate(dir.path());
        damage(dir.path());

        // Report policy: nothing on disk changes, and the damage is reported.
        let before = listing(dir.path());
        let report_only = Options {
            damage_policy: DamagePolicy::Report,
            ..Options::default()
        };
        match Journal::open(dir.path(), report_only) {
            Err(Error::DatabaseDamaged { reason, .. }) => assert!(!reason.is_empty()),
            Ok((_, report)) => assert!(report.lost_writes.is_some(), "{case}: {report:?}"),
            Err(other) => panic!("{case}: unexpected error {other}"),
        }
        // Nothing was moved aside (sled itself may still write recovery
        // metadata when it opens a database; it has no read-only mode).
        let after = listing(dir.path());
        assert!(
            after
                .iter()
                .all(|(p, _)| !p.to_string_lossy().contains("damaged")),
            "{case}"
        );
        assert!(
            before
                .iter()
                .all(|(p, _)| after.iter().any(|(q, _)| q == p)),
            "{case}"
        );

        assert_moved_aside_and_fresh(dir.path(), case);
    }
}

#[test]
fn harmless_damage_keeps_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    std::fs::remove_file(dir.path().join(DB_DIR).join("conf")).unwrap();
    let (j, report) = Journal::open(dir.path(), Options::default()).unwrap();
    assert!(report.moved_aside.is_none(), "{report:?}");
    assert!(all_entries_present(&j));
}

#[test]
fn random_byte_damage_is_either_detected_or_harmless_and_never_panics() {
    let template = tempfile::tempdir().unwrap();
    populate(template.path());
    let len = std::fs::metadata(db_file(template.path())).unwrap().len();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut detected, mut harmless) = (0, 0);
    for round in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        let at = next() % len;
        let n = 1 + next() % 256;
        let garbage: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        overwrite(&db_file(dir.path()), at, &garbage);
        let opened = std::panic::catch_unwind(|| Journal::open(dir.path(), Options::default()));
        let (j, report) = match opened {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                panic!("round {round}: damage at {at}+{n} gave an error, not a fresh start: {e}")
            }
            Err(_) => panic!("round {round}: open panicked on damage at {at}+{n}"),
        };
        if report.moved_aside.is_some() {
            detected += 1;
        } else {
            // Not detected: then nothing may be missing or wrong.
            assert!(
                all_entries_present(&j),
                "round {round}: silent loss at {at}+{n}"
            );
            assert!(j.verify().unwrap().is_ok(), "round {round}");
            harmless += 1;
        }
    }
    eprintln!("random damage: {detected} detected, {harmless} harmless");
}

/// Opens the journal's sled database directly (journal closed) to plant
/// bad records, returning the db and the stream number of `uid-0`.
fn raw_db(dir: &Path) -> (sled::Db, u64) {
    let db = open_sled(dir);
    let meta = db
        .open_tree("streams")
        .unwrap()
        .get("uid-0")
        .unwrap()
        .unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
    (db, meta["no"].as_u64().unwrap())
}

/// sled finishes closing on background threads, so its file lock can
/// outlive the last handle briefly: poll until it is free.
fn open_sled(dir: &Path) -> sled::Db {
    common::poll_until(std::time::Duration::from_secs(10), "sled's lock", || {
        sled::open(dir.join(DB_DIR)).ok()
    })
}

fn key(no: u64, seq: u64) -> Vec<u8> {
    [no.to_be_bytes(), seq.to_be_bytes()].concat()
}

#[test]
fn undecodable_entries_are_reported_with_stream_and_seq_and_quarantine_only_their_stream() {
    type Corrupt = fn(&[u8]) -> Vec<u8>;
    type Expect = fn(&DamageCause) -> bool;
    let cases: [(&str, Corrupt, Expect); 5] = [
        (
            "garbage bytes",
            |_| b"\xde\xad\xbe\xef this is not an envelope at all".to_vec(),
            |c| {
                matches!(
                    c,
                    DamageCause::Envelope(EnvelopeError::UnknownFormat { .. })
                )
            },
        ),
        (
            "truncated record",
            |v| v[..5].to_vec(),
            |c| matches!(c, DamageCause::Envelope(EnvelopeError::TooShort { len: 5 })),
        ),
        (
            "record cut in the middle",
            |v| v[..v.len() / 2].to_vec(),
            |c| matches!(c, DamageCause::Envelope(EnvelopeError::Checksum { .. })),
        ),
        (
            "flipped payload byte",
            |v| {
                let mut v = v.to_vec();
                let last = v.len() - 2;
                v[last] ^= 0x20;
                v
            },
            |c| matches!(c, DamageCause::Envelope(EnvelopeError::Checksum { .. })),
        ),
        (
            "payload of the wrong shape",
            |_| {
                // A well-formed record (format 2, one entry, schema 1, ts 42,
                // then the CRC) whose JSON is not an Event.
                let payload = br#"{"unexpected":true}"#;
                let mut out = vec![2, 1, 1, 84, payload.len() as u8];
                out.extend_from_slice(payload);
                let crc = crc32fast::hash(&out);
                out.extend_from_slice(&crc.to_be_bytes());
                out
            },
            |c| matches!(c, DamageCause::Decode(_)),
        ),
    ];
    for (case, corrupt, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        populate(dir.path());
        {
            let (db, no) = raw_db(dir.path());
            let entries = db.open_tree("entries").unwrap();
            let good = entries.get(key(no, 42)).unwrap().unwrap();
            entries.insert(key(no, 42), corrupt(&good)).unwrap();
            db.flush().unwrap();
        }
        let (j, report) = Journal::open(dir.path(), Options::default()).unwrap();
        assert!(report.moved_aside.is_none(), "{case}: {report:?}");
        let envelope_damage = match j.read_from::<Event>("uid-0", 1) {
            Err(
                ref err @ Error::Damaged {
                    ref stream,
                    seq,
                    record,
                    ref cause,
                },
            ) => {
                assert_eq!(
                    (stream.as_str(), seq, record),
                    ("uid-0", 42, RecordKind::Entry),
                    "{case}"
                );
                assert!(expected(cause), "{case}: unexpected cause {cause:?}");
                let msg = err.to_string();
                assert!(msg.contains("uid-0") && msg.contains("42"), "{case}: {msg}");
                matches!(cause, DamageCause::Envelope(_))
            }
            other => panic!("{case}: expected Damaged, got {other:?}"),
        };
        // Quarantined: typed reads skip it, listing and verify show it.
        assert!(matches!(
            j.read_from::<Event>("uid-0", 50),
            Err(Error::Quarantined { seq: 42, .. })
        ));
        let info = j.stream_info("uid-0").unwrap();
        assert_eq!(info.quarantined.as_ref().map(|q| q.seq), Some(42), "{case}");
        // Raw reads (inspection) stop at a damaged envelope; a payload that
        // is valid JSON of another shape is still readable raw.
        let raw = j.read_raw_from("uid-0", 1).unwrap();
        if envelope_damage {
            assert_eq!(raw.entries.len(), 41, "{case}");
            assert_eq!(raw.damage.as_ref().map(|d| d.seq), Some(42), "{case}");
        } else {
            assert_eq!(raw.entries.len() as u64, PER_STREAM, "{case}");
        }
        // Other streams are untouched.
        assert_eq!(
            j.read_from::<Event>("uid-1", 1).unwrap().len() as u64,
            PER_STREAM
        );
        let verify = j.verify().unwrap();
        assert!(!verify.is_ok());
        let problems = &verify
            .streams
            .iter()
            .find(|s| s.id == "uid-0")
            .unwrap()
            .problems;
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, Problem::Quarantined(_))),
            "{case}"
        );
        // The quarantine is persisted.
        drop(j);
        let (_, report) = Journal::open(dir.path(), Options::default()).unwrap();
        assert_eq!(report.quarantined, vec!["uid-0".to_string()], "{case}");
    }
}

#[test]
fn a_missing_entry_is_a_gap_error() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    {
        let (db, no) = raw_db(dir.path());
        db.open_tree("entries").unwrap().remove(key(no, 7)).unwrap();
        db.flush().unwrap();
    }
    let (j, _) = Journal::open(dir.path(), Options::default()).unwrap();
    let v = j.verify().unwrap();
    let problems = &v.streams.iter().find(|s| s.id == "uid-0").unwrap().problems;
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::Damaged(d) if d.seq == 7)),
        "{problems:?}"
    );
    assert!(matches!(
        j.read_from::<Event>("uid-0", 1),
        Err(Error::Damaged {
            seq: 7,
            cause: DamageCause::Gap {
                expected: 7,
                found: Some(8)
            },
            ..
        })
    ));
}

#[test]
fn a_damaged_snapshot_is_reported_and_quarantines() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    {
        let (db, no) = raw_db(dir.path());
        db.open_tree("snapshots")
            .unwrap()
            .insert(key(no, 100), &b"\x01junk"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let (j, _) = Journal::open(dir.path(), Options::default()).unwrap();
    assert!(matches!(
        j.latest_snapshot::<State>("uid-0"),
        Err(Error::Damaged {
            seq: 100,
            record: RecordKind::Snapshot,
            ..
        })
    ));
    assert!(matches!(
        j.restore::<State, Event>("uid-0"),
        Err(Error::Quarantined { .. })
    ));
    assert!(j.restore::<State, Event>("uid-1").is_ok());
}

#[test]
fn undecodable_stream_metadata_is_reported_at_open() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    {
        let (db, _) = raw_db(dir.path());
        db.open_tree("streams")
            .unwrap()
            .insert("uid-2", &b"{broken"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let (j, report) = Journal::open(dir.path(), Options::default()).unwrap();
    assert_eq!(report.damaged_metadata.len(), 1, "{report:?}");
    assert!(report.damaged_metadata[0].contains("uid-2"));
    assert!(!report.is_clean());
    assert_eq!(j.streams().unwrap().len() as u64, STREAMS - 1);
    let v = j.verify().unwrap();
    assert!(
        !v.orphans.is_empty(),
        "orphaned entries of uid-2 are reported"
    );
}

#[test]
fn a_newer_on_disk_format_is_refused_without_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    {
        let db = open_sled(dir.path());
        db.insert("rayop-journal-format", &99_u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(
        Journal::open(dir.path(), Options::default()),
        Err(Error::UnsupportedFormat { found: 99, .. })
    ));
    assert!(db_file(dir.path()).exists());
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
