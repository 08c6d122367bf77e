//! Export and import as JSON lines, so a journal can travel in a bug report.
//!
//! Format: one JSON object per line, each with a `kind` first:
//!
//! ```text
//! {"kind":"journal","format":1}
//! {"kind":"stream","id":"…","index_key":"ns/name","last_seq":12,"deleted_at":…,"quarantine":…}
//! {"kind":"snapshot","stream":"…","at_seq":10,"ts":…,"version":1,"state":{…}}
//! {"kind":"entry","stream":"…","seq":11,"ts":…,"version":1,"payload":{…}}
//! {"kind":"damaged","stream":"…","record":"entry","seq":12,"reason":"…"}
//! ```
//!
//! Streams come in id order; each stream line is followed by its snapshots,
//! then its entries in seq order. Payloads and states are embedded verbatim
//! (their stored bytes), which is what makes the round trip exact:
//! exporting an imported export reproduces it byte for byte. Reading a
//! stream stops at its first damaged record, which is written as a
//! `damaged` line (import counts those and skips them).
//!
//! Import stores runs of consecutive entries of a stream together (up to 64
//! per sled record), so export+import doubles as an offline compaction.
//!
//! Invariant: import only creates streams that do not exist yet; it never
//! merges into or overwrites existing history. It stops at the first bad
//! line; the lines before it stay imported.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Timestamp;
use crate::error::{Error, RecordKind, Result};
use crate::journal::{JOURNAL_FORMAT, Journal, lock_state};
use crate::keys::{seq_key, split_seq_key, stream_prefix};
use crate::read::raw_json;
use crate::stream::Quarantine;
use crate::{batch, envelope};

#[derive(Serialize, Deserialize)]
struct JournalLine {
    kind: String,
    format: u32,
}

#[derive(Serialize, Deserialize)]
struct StreamLine {
    kind: String,
    id: String,
    index_key: String,
    last_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quarantine: Option<Quarantine>,
}

#[derive(Serialize, Deserialize)]
struct EntryLine {
    kind: String,
    stream: String,
    seq: u64,
    ts: Timestamp,
    version: u32,
    payload: Box<RawValue>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotLine {
    kind: String,
    stream: String,
    at_seq: u64,
    ts: Timestamp,
    version: u32,
    state: Box<RawValue>,
}

#[derive(Serialize, Deserialize)]
struct DamagedLine {
    kind: String,
    stream: String,
    record: RecordKind,
    seq: u64,
    reason: String,
}

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

#[derive(Deserialize)]
struct Peek {
    kind: String,
}

/// Counts of what an export or import handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TransferSummary {
    /// Streams.
    pub streams: u64,
    /// Entries.
    pub entries: u64,
    /// Snapshots.
    pub snapshots: u64,
    /// Damaged records (written as / skipped from `damaged` lines).
    pub damaged: u64,
}

fn write_line<T: Serialize>(w: &mut impl Write, line: &T) -> Result<()> {
    serde_json::to_writer(&mut *w, line).map_err(|source| Error::Serialize {
        what: "export line",
        source,
    })?;
    w.write_all(b"\n").map_err(|e| Error::io("write export", e))
}

impl Journal {
    /// Writes every stream as JSON lines (see the module docs).
    pub fn export(&self, w: impl Write) -> Result<TransferSummary> {
        let ids: Vec<String> = self.registry_read().keys().cloned().collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.export_streams(w, &refs)
    }

    /// Writes the named streams as JSON lines (see the module docs).
    pub fn export_streams(&self, mut w: impl Write, ids: &[&str]) -> Result<TransferSummary> {
        let mut summary = TransferSummary::default();
        write_line(
            &mut w,
            &JournalLine {
                kind: "journal".into(),
                format: JOURNAL_FORMAT,
            },
        )?;
        for id in ids {
            let handle = self.stream(id)?;
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
            for row in self
                .inner
                .trees
                .snapshots
                .scan_prefix(stream_prefix(st.meta.no))
            {
                let (key, value) = row.map_err(err)?;
                let at_seq = split_seq_key(&key).map_or(0, |(_, s)| s);
                let decoded = envelope::decode(&value)
                    .and_then(|d| Ok((d.ts, d.version, raw_json(d.payload)?)));
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
            let first = self.first_available(&st)?;
            let mut lines = Vec::new();
            let damage = self.scan_entries(&st, first, |seq, d| {
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

    /// Reads JSON lines written by [`Journal::export`] and adds their streams
    /// to this journal, durably. Fails on the first bad line, naming it; a
    /// stream that already exists is an error (nothing is merged).
    pub fn import(&self, r: impl BufRead) -> Result<TransferSummary> {
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
                self.flush_pending(&mut pending)?;
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
                    self.import_stream(n, s)?;
                    summary.streams += 1;
                }
                "entry" => {
                    let e: EntryLine = serde_json::from_str(&line).map_err(bad)?;
                    let joins = pending.stream == e.stream
                        && pending.last_seq.checked_add(1) == Some(e.seq)
                        && pending.items.len() < IMPORT_RECORD_ENTRIES;
                    if !joins {
                        self.flush_pending(&mut pending)?;
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
                    self.import_record(n, &s.stream, s.at_seq, bytes, RecordKind::Snapshot)?;
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
        self.flush_pending(&mut pending)?;
        self.make_durable()?;
        Ok(summary)
    }

    /// Stores the entries gathered for one record, if any.
    fn flush_pending(&self, pending: &mut Pending) -> Result<()> {
        if pending.items.is_empty() {
            return Ok(());
        }
        let items: Vec<batch::Item<'_>> = pending
            .items
            .iter()
            .map(|(v, ts, p)| (*v, *ts, p.as_slice()))
            .collect();
        let bytes = batch::encode(&items);
        self.import_record(
            pending.line,
            &pending.stream,
            pending.last_seq,
            bytes,
            RecordKind::Entry,
        )?;
        pending.items.clear();
        Ok(())
    }

    fn import_stream(&self, line: usize, s: StreamLine) -> Result<()> {
        let mut registry = self.registry_write();
        if registry.contains_key(&s.id) {
            return Err(Error::Import {
                line,
                reason: format!("stream {} already exists in this journal", s.id),
            });
        }
        let handle = self.create_stream(&s.id, &s.index_key, s.deleted_at)?;
        {
            let mut st = self.lock_stream(&handle);
            st.last_seq = s.last_seq;
            if s.quarantine.is_some() {
                st.meta.quarantine = s.quarantine;
                self.write_meta(&st)?;
            }
        }
        registry.insert(s.id, handle);
        Ok(())
    }

    fn import_record(
        &self,
        line: usize,
        stream: &str,
        seq: u64,
        bytes: Vec<u8>,
        record: RecordKind,
    ) -> Result<()> {
        let handle = self.stream(stream).map_err(|_| Error::Import {
            line,
            reason: format!("{record} for stream {stream} before its stream line"),
        })?;
        let mut st = self.lock_stream(&handle);
        let tree = match record {
            RecordKind::Entry => &self.inner.trees.entries,
            RecordKind::Snapshot => &self.inner.trees.snapshots,
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
}
