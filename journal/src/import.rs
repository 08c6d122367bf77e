//! Import: add the streams of a JSON-lines export (format: see `transfer`)
//! to a journal, durably.
//!
//! Import stores runs of consecutive entries of a stream together (up to
//! `IMPORT_RECORD_ENTRIES` per sled record), so export+import doubles as
//! an offline compaction (see `compaction`).
//!
//! Invariant: import only creates streams that do not exist yet; it never
//! merges into or overwrites existing history. It stops at the first bad
//! line; the lines before it stay imported.

use std::io::BufRead;

use crate::error::{Error, RecordKind, Result};
use crate::keys::seq_key;
use crate::store::Store;
use crate::timestamp::Timestamp;
use crate::transfer::{EntryLine, JournalLine, Peek, SnapshotLine, StreamLine, TransferSummary};
use crate::trees::JOURNAL_FORMAT;
use crate::{batch, envelope};

/// Consecutive imported entries of one stream are stored together, up to
/// this many per record (append grouping is not exported; grouping only
/// changes how finely retention can prune, and fewer, larger records take
/// less space in sled — an export+import is also an offline compaction).
const IMPORT_RECORD_ENTRIES: usize = 64;

/// Entries read but not yet stored.
#[derive(Default)]
struct Pending {
    stream: String,
    /// Line of the first pending entry.
    line: usize,
    last_seq: u64,
    items: Vec<(u32, Timestamp, Vec<u8>)>,
}

/// Reads an export and adds its streams; fails on the first bad line,
/// naming it.
pub(crate) fn import(store: &Store, r: impl BufRead) -> Result<TransferSummary> {
    let mut summary = TransferSummary::default();
    let mut pending = Pending::default();
    for (i, line) in r.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| Error::io(format!("read import line {n}"), e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |e: serde_json::Error| Error::Import {
            line: n,
            reason: e.to_string(),
        };
        let peek: Peek = serde_json::from_str(&line).map_err(bad)?;
        if peek.kind != "entry" {
            flush_pending(store, &mut pending)?;
        }
        match peek.kind.as_str() {
            "journal" => {
                let j: JournalLine = serde_json::from_str(&line).map_err(bad)?;
                if j.format > JOURNAL_FORMAT {
                    return Err(Error::Import {
                        line: n,
                        reason: format!(
                            "export format {} is newer than this build's {JOURNAL_FORMAT}",
                            j.format
                        ),
                    });
                }
            }
            "stream" => {
                let s: StreamLine = serde_json::from_str(&line).map_err(bad)?;
                import_stream(store, n, s)?;
                summary.streams += 1;
            }
            "entry" => {
                let e: EntryLine = serde_json::from_str(&line).map_err(bad)?;
                let joins = pending.stream == e.stream
                    && pending.last_seq.checked_add(1) == Some(e.seq)
                    && pending.items.len() < IMPORT_RECORD_ENTRIES;
                if !joins {
                    flush_pending(store, &mut pending)?;
                    pending.stream = e.stream;
                    pending.line = n;
                }
                pending.last_seq = e.seq;
                pending
                    .items
                    .push((e.version, e.ts, e.payload.get().as_bytes().to_vec()));
                summary.entries += 1;
            }
            "snapshot" => {
                let s: SnapshotLine = serde_json::from_str(&line).map_err(bad)?;
                let bytes = envelope::encode(s.version, s.ts, s.state.get().as_bytes());
                import_record(store, n, &s.stream, s.at_seq, bytes, RecordKind::Snapshot)?;
                summary.snapshots += 1;
            }
            "damaged" => summary.damaged += 1,
            other => {
                return Err(Error::Import {
                    line: n,
                    reason: format!("unknown kind {other:?}"),
                });
            }
        }
    }
    flush_pending(store, &mut pending)?;
    store.make_durable()?;
    Ok(summary)
}

/// Stores the entries gathered for one record, if any.
fn flush_pending(store: &Store, pending: &mut Pending) -> Result<()> {
    if pending.items.is_empty() {
        return Ok(());
    }
    let items: Vec<batch::Item<'_>> = pending
        .items
        .iter()
        .map(|(v, ts, p)| (*v, *ts, p.as_slice()))
        .collect();
    let bytes = batch::encode(&items);
    import_record(
        store,
        pending.line,
        &pending.stream,
        pending.last_seq,
        bytes,
        RecordKind::Entry,
    )?;
    pending.items.clear();
    Ok(())
}

fn import_stream(store: &Store, line: usize, s: StreamLine) -> Result<()> {
    let mut registry = store.registry_write();
    if registry.contains_key(&s.id) {
        return Err(Error::Import {
            line,
            reason: format!("stream {} already exists in this journal", s.id),
        });
    }
    let handle = store.create_stream(&s.id, &s.index_key, s.deleted_at)?;
    {
        let mut st = store.lock_stream(&handle);
        st.last_seq = s.last_seq;
        if s.quarantine.is_some() {
            st.meta.quarantine = s.quarantine;
            store.write_meta(&st)?;
        }
    }
    registry.insert(s.id, handle);
    Ok(())
}

fn import_record(
    store: &Store,
    line: usize,
    stream: &str,
    seq: u64,
    bytes: Vec<u8>,
    record: RecordKind,
) -> Result<()> {
    let handle = store.stream(stream).map_err(|_| Error::Import {
        line,
        reason: format!("{record} for stream {stream} before its stream line"),
    })?;
    let mut st = store.lock_stream(&handle);
    let tree = match record {
        RecordKind::Entry => &store.trees().entries,
        RecordKind::Snapshot => &store.trees().snapshots,
    };
    if seq == 0 {
        return Err(Error::Import {
            line,
            reason: format!("{record} seq must be at least 1"),
        });
    }
    tree.insert(seq_key(st.meta.no, seq), bytes)
        .map_err(|e| Error::storage(format!("import into stream {stream}"), e))?;
    st.last_seq = st.last_seq.max(seq);
    Ok(())
}
