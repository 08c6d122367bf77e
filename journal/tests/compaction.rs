//! Offline compaction keeps every retained record, shrinks the database
//! after churn, refuses an open journal, and an interrupted compaction is
//! finished or undone by the next open.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{State, event, open_clean, ts};
use rayop_journal::{DB_DIR, Error, Journal, Options};

const DAY: i64 = 24 * 3600 * 1000;

fn options() -> Options {
    Options {
        keep_entries: 10,
        snapshot_every: 10,
        ..Options::default()
    }
}

/// Churns: many streams appended, snapshotted, deleted and pruned, leaving
/// a few live streams and a lot of sled garbage.
fn churned(dir: &Path) {
    let j = open_clean(dir, options());
    for round in 0..6_i64 {
        for s in 0..8 {
            let id = format!("uid-{round}-{s}");
            for chunk in 0..8_u64 {
                let batch: Vec<_> = (0..10)
                    .map(|i| (ts(round * 30 * DAY + i), event(chunk * 10 + i as u64)))
                    .collect();
                let seqs = j.append(&id, &format!("ns/{s}"), &batch).unwrap();
                j.put_snapshot(
                    &id,
                    seqs.end - 1,
                    ts(round * 30 * DAY),
                    &State {
                        applied: seqs.end - 1,
                    },
                )
                .unwrap();
            }
            if round < 5 {
                j.mark_deleted(&id, ts(round * 30 * DAY)).unwrap();
            }
        }
        j.prune(ts(round * 30 * DAY + 20 * DAY)).unwrap();
    }
}

fn export_text(dir: &Path) -> String {
    let j = open_clean(dir, options());
    let mut out = Vec::new();
    j.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn compaction_keeps_every_record_and_shrinks_the_database() {
    let dir = tempfile::tempdir().unwrap();
    churned(dir.path());
    let before = export_text(dir.path());
    let report = Journal::compact(dir.path(), options()).unwrap();
    eprintln!("compaction: {report:?}");
    assert!(report.bytes_after < report.bytes_before, "{report:?}");
    assert_eq!(report.carried.streams, 8);
    assert_eq!(
        export_text(dir.path()),
        before,
        "compaction changed the content"
    );
    // Still a working journal, with no leftovers.
    let j = open_clean(dir.path(), options());
    assert!(j.verify().unwrap().is_ok());
    assert_eq!(
        j.append_one("uid-5-0", "ns/0", ts(1), &event(1)).unwrap(),
        81
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "only owner and db remain: {names:?}");
}

#[test]
fn compaction_refuses_an_open_journal() {
    let dir = tempfile::tempdir().unwrap();
    let _open = open_clean(dir.path(), options());
    assert!(matches!(
        Journal::compact(dir.path(), options()),
        Err(Error::Locked { .. })
    ));
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

/// Builds the on-disk states a crash can leave mid-compaction and checks
/// the next open ends up with the whole journal either way.
#[test]
fn an_interrupted_compaction_is_finished_or_undone_on_open() {
    let source = tempfile::tempdir().unwrap();
    churned(source.path());
    let expected = export_text(source.path());

    // Crashed while copying: db intact, a partial work dir.
    let a = tempfile::tempdir().unwrap();
    copy_dir(source.path(), a.path());
    std::fs::create_dir_all(a.path().join("compacting/db")).unwrap();
    // Crashed after setting db aside but before the copy was marked complete.
    let b = tempfile::tempdir().unwrap();
    copy_dir(source.path(), b.path());
    std::fs::rename(b.path().join(DB_DIR), b.path().join("db.pre-compact")).unwrap();
    std::fs::create_dir_all(b.path().join("compacting/db")).unwrap();
    // Crashed after the complete copy was made and db set aside.
    let c = tempfile::tempdir().unwrap();
    copy_dir(source.path(), c.path());
    std::fs::create_dir_all(c.path().join("compacting")).unwrap();
    copy_dir(&source.path().join(DB_DIR), &c.path().join("compacting/db"));
    std::fs::write(c.path().join("compacting/complete"), b"").unwrap();
    std::fs::rename(c.path().join(DB_DIR), c.path().join("db.pre-compact")).unwrap();
    // Crashed after the swap, before cleanup.
    let d = tempfile::tempdir().unwrap();
    copy_dir(source.path(), d.path());
    copy_dir(
        &source.path().join(DB_DIR),
        &d.path().join("db.pre-compact"),
    );
    std::fs::create_dir_all(d.path().join("compacting")).unwrap();

    for (case, dir) in [
        ("copying", &a),
        ("set aside", &b),
        ("complete", &c),
        ("swapped", &d),
    ] {
        let (j, report) = Journal::open(dir.path(), options()).unwrap();
        assert!(report.moved_aside.is_none(), "{case}: {report:?}");
        assert_eq!(
            report.warnings.len(),
            1,
            "{case}: the recovery is reported: {report:?}"
        );
        let mut out = Vec::new();
        j.export(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), expected, "{case}");
        drop(j);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{case}: leftovers {names:?}");
    }
}
