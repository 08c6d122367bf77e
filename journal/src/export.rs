//! Export: every stream, or the named ones, as JSON lines (format: see
//! `transfer`).
//!
//! Invariants: export only reads (it does not quarantine what it finds
//! damaged, it writes a `damaged` line instead); each stream is written
//! under its lock, so its lines are one consistent state of it.

use std::io::Write;

use serde::Serialize;

use crate::envelope::{self, raw_json};
use crate::error::{Error, RecordKind, Result};
use crate::keys::{split_seq_key, stream_prefix};
use crate::records::{first_available, scan_entries};
use crate::store::{Store, lock_state};
use crate::transfer::{
    DamagedLine, EntryLine, JournalLine, SnapshotLine, StreamLine, TransferSummary,
};
use crate::trees::JOURNAL_FORMAT;

fn write_line<T: Serialize>(w: &mut impl Write, line: &T) -> Result<()> {
    serde_json::to_writer(&mut *w, line).map_err(|source| Error::Serialize {
        what: "export line",
        source,
    })?;
    w.write_all(b"\n").map_err(|e| Error::io("write export", e))
}

/// Writes every stream in the registry, ordered by id.
pub(crate) fn export(store: &Store, w: impl Write) -> Result<TransferSummary> {
    let ids: Vec<String> = store.registry_read().keys().cloned().collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    export_streams(store, w, &refs)
}

/// Writes the named streams in the order given, each under its lock.
pub(crate) fn export_streams(
    store: &Store,
    mut w: impl Write,
    ids: &[&str],
) -> Result<TransferSummary> {
    let mut summary = TransferSummary::default();
    write_line(
        &mut w,
        &JournalLine {
            kind: "journal".into(),
            format: JOURNAL_FORMAT,
        },
    )?;
    let trees = store.trees();
    for id in ids {
        let handle = store.stream(id)?;
        let st = lock_state(&handle);
        write_line(
            &mut w,
            &StreamLine {
                kind: "stream".into(),
                id: st.id.clone(),
                index_key: st.meta.index_key.clone(),
                last_seq: st.last_seq,
                deleted_at: st.meta.deleted_at,
                quarantine: st.meta.quarantine.clone(),
            },
        )?;
        summary.streams += 1;
        let err = |e| Error::storage(format!("export stream {id}"), e);
        for row in trees.snapshots.scan_prefix(stream_prefix(st.meta.no)) {
            let (key, value) = row.map_err(err)?;
            let at_seq = split_seq_key(&key).map_or(0, |(_, s)| s);
            let decoded =
                envelope::decode(&value).and_then(|d| Ok((d.ts, d.version, raw_json(d.payload)?)));
            match decoded {
                Ok((ts, version, state)) => {
                    let line = SnapshotLine {
                        kind: "snapshot".into(),
                        stream: st.id.clone(),
                        at_seq,
                        ts,
                        version,
                        state,
                    };
                    write_line(&mut w, &line)?;
                    summary.snapshots += 1;
                }
                Err(e) => {
                    let line = DamagedLine {
                        kind: "damaged".into(),
                        stream: st.id.clone(),
                        record: RecordKind::Snapshot,
                        seq: at_seq,
                        reason: e.to_string(),
                    };
                    write_line(&mut w, &line)?;
                    summary.damaged += 1;
                }
            }
        }
        let first = first_available(trees, &st)?;
        let mut lines = Vec::new();
        let damage = scan_entries(trees, &st, first, |seq, d| {
            lines.push(EntryLine {
                kind: "entry".into(),
                stream: st.id.clone(),
                seq,
                ts: d.ts,
                version: d.version,
                payload: raw_json(d.payload)?,
            });
            Ok(())
        })?;
        for line in &lines {
            write_line(&mut w, line)?;
        }
        summary.entries += lines.len() as u64;
        if let Some((seq, cause)) = damage {
            let line = DamagedLine {
                kind: "damaged".into(),
                stream: st.id.clone(),
                record: RecordKind::Entry,
                seq,
                reason: cause.to_string(),
            };
            write_line(&mut w, &line)?;
            summary.damaged += 1;
        }
    }
    w.flush().map_err(|e| Error::io("flush export", e))?;
    Ok(summary)
}
