//! Export/import as JSON lines round-trips exactly, and bad input gives an
//! error naming the line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Event, State, event, open_clean, ts};
use rayop_journal::{Error, Journal, Options};

fn populated() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let j = open_clean(dir.path(), Options::default());
    for s in 0..3_u64 {
        let id = format!("uid-{s}");
        let batch: Vec<_> = (1..=12).map(|n| (ts(n), event(n as u64 + s))).collect();
        j.append(&id, &format!("ns/name-{s}"), &batch).unwrap();
        j.put_snapshot(&id, 5, ts(5), &State { applied: 5 })
            .unwrap();
        j.put_snapshot(&id, 10, ts(10), &State { applied: 10 })
            .unwrap();
    }
    j.mark_deleted("uid-1", ts(99)).unwrap();
    // A stream with metadata only.
    j.append::<Event>("uid-empty", "ns/empty", &[]).unwrap();
    (dir, j)
}

#[test]
fn export_import_export_is_byte_identical() {
    let (_a, source) = populated();
    let mut first = Vec::new();
    let summary = source.export(&mut first).unwrap();
    assert_eq!(
        (summary.streams, summary.entries, summary.snapshots),
        (4, 36, 6)
    );

    let b = tempfile::tempdir().unwrap();
    let copy = open_clean(b.path(), Options::default());
    let imported = copy.import(first.as_slice()).unwrap();
    assert_eq!(imported, summary);
    let mut second = Vec::new();
    copy.export(&mut second).unwrap();
    assert_eq!(
        String::from_utf8(first).unwrap(),
        String::from_utf8(second).unwrap()
    );

    // The imported journal is a working journal: same listing, same reads,
    // appends continue the sequence, and it verifies.
    let strip = |mut v: Vec<rayop_journal::StreamInfo>| {
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    };
    assert_eq!(
        strip(source.streams().unwrap()),
        strip(copy.streams().unwrap())
    );
    assert_eq!(
        source.read_from::<Event>("uid-2", 1).unwrap(),
        copy.read_from::<Event>("uid-2", 1).unwrap()
    );
    assert_eq!(copy.lookup("ns/name-1").unwrap(), vec!["uid-1"]);
    assert_eq!(
        copy.append_one("uid-0", "ns/name-0", ts(13), &event(13))
            .unwrap(),
        13
    );
    assert!(copy.verify().unwrap().is_ok());
}

#[test]
fn export_of_selected_streams() {
    let (_a, j) = populated();
    let mut out = Vec::new();
    let summary = j.export_streams(&mut out, &["uid-2"]).unwrap();
    assert_eq!((summary.streams, summary.entries), (1, 12));
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().all(|l| !l.contains("uid-0")));
}

#[test]
fn import_errors_name_the_line_and_never_merge() {
    let (_a, j) = populated();
    let mut out = Vec::new();
    j.export(&mut out).unwrap();
    // Importing into the same journal would merge: refused.
    match j.import(out.as_slice()) {
        Err(Error::Import { line: 2, reason }) => assert!(reason.contains("already exists")),
        other => panic!("expected an import error, got {other:?}"),
    }
    let b = tempfile::tempdir().unwrap();
    let fresh = open_clean(b.path(), Options::default());
    let cases: [(&str, usize); 4] = [
        ("{\"kind\":\"journal\",\"format\":1}\nnot json\n", 2),
        (
            "{\"kind\":\"entry\",\"stream\":\"x\",\"seq\":1,\"ts\":1,\"version\":1,\"payload\":{}}\n",
            1,
        ),
        ("{\"kind\":\"mystery\"}\n", 1),
        ("{\"kind\":\"journal\",\"format\":999}\n", 1),
    ];
    for (input, line) in cases {
        match fresh.import(input.as_bytes()) {
            Err(Error::Import { line: got, .. }) => assert_eq!(got, line, "{input}"),
            other => panic!("{input}: expected an import error, got {other:?}"),
        }
    }
}
