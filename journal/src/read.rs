//! Reading streams: typed reads with upcasting, raw reads for inspection,
//! restore (latest snapshot + tail), stream summaries, lookups by index key,
//! and lifting a quarantine.
//!
//! Invariants:
//! - a read returns entries with consecutive seqs starting exactly at the
//!   requested seq, or an error — never a silently shortened or gapped list
//!   (see `records`);
//! - any record that fails to decode quarantines its stream (persisted in the
//!   stream's metadata) and yields [`Error::Damaged`] naming stream and seq;
//! - typed reads of a quarantined stream fail with [`Error::Quarantined`]
//!   (normal consumers skip it); raw reads still work, for inspection.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::batch;
use crate::envelope::raw_json;
use crate::error::{Error, RecordKind, Result};
use crate::keys::{index_prefix, split_index_row, stream_prefix};
use crate::records::{key_seq, last_stored_seq, record_first_seq, scan_entries};
use crate::schema::{self, Versioned};
use crate::snapshot::{Snapshot, latest_snapshot};
use crate::store::{Store, StreamHandle, lock_state};
use crate::stream::{StreamInfo, StreamState};
use crate::timestamp::Timestamp;

/// One decoded entry; its `seq` and `ts` are as appended, its payload upcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<T> {
    /// Sequence number within its stream (from 1).
    pub seq: u64,
    /// The caller-supplied time stored with it.
    pub ts: Timestamp,
    /// The schema version it was *written* with (before any upcast).
    pub version: u32,
    /// The payload, upcast to the reader's version.
    pub payload: T,
}

/// One entry with its payload left as JSON text, for inspection and export.
#[derive(Debug, Clone, Serialize)]
pub struct RawEntry {
    /// Sequence number within its stream, from 1 without gaps.
    pub seq: u64,
    /// The caller-supplied time, stored verbatim.
    pub ts: Timestamp,
    /// The schema version it was written with.
    pub version: u32,
    /// The payload's JSON exactly as stored, not upcast.
    pub payload: Box<RawValue>,
}

/// A damaged record found by a raw read or by `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    /// Whether the damaged record is an entry or a snapshot.
    pub record: RecordKind,
    /// Its seq (or the seq where one is missing).
    pub seq: u64,
    /// What is wrong, in words: the envelope or decode error, or the gap.
    pub reason: String,
}

/// The result of a raw read: the readable entries up to the first damaged
/// one, and the damage if any.
#[derive(Debug, Clone)]
pub struct RawRead {
    /// Readable entries in seq order, contiguous, ending before `damage`.
    pub entries: Vec<RawEntry>,
    /// The first damaged record, where reading stopped.
    pub damage: Option<Damage>,
}

/// What a caller needs to rebuild a stream's state: the latest snapshot and
/// every entry after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored<S, T> {
    /// The latest snapshot; `None` when the stream has none, then `entries` start at seq 1.
    pub snapshot: Option<Snapshot<S>>,
    /// The entries after the snapshot (or all entries without one).
    pub entries: Vec<Entry<T>>,
}

/// Entries of `stream` from seq `from`, decoded as `T`.
pub(crate) fn read_from<T: Versioned>(
    store: &Store,
    stream: &str,
    from: u64,
) -> Result<Vec<Entry<T>>> {
    let handle = store.stream(stream)?;
    let mut st = store.lock_stream(&handle);
    st.check_not_quarantined()?;
    let mut out = Vec::new();
    let damage = scan_entries(store.trees(), &st, from, |seq, d| {
        let payload = schema::decode_payload::<T>(d.version, d.payload)?;
        out.push(Entry {
            seq,
            ts: d.ts,
            version: d.version,
            payload,
        });
        Ok(())
    })?;
    if let Some((seq, cause)) = damage {
        return Err(store.quarantine(&mut st, seq, RecordKind::Entry, cause));
    }
    Ok(out)
}

/// Entries of `stream` from seq `from` with payloads as stored, up to the
/// first damaged one.
pub(crate) fn read_raw_from(store: &Store, stream: &str, from: u64) -> Result<RawRead> {
    let handle = store.stream(stream)?;
    let mut st = store.lock_stream(&handle);
    let mut entries = Vec::new();
    let damage = scan_entries(store.trees(), &st, from, |seq, d| {
        let payload = raw_json(d.payload)?;
        entries.push(RawEntry {
            seq,
            ts: d.ts,
            version: d.version,
            payload,
        });
        Ok(())
    })?;
    let damage = damage.map(|(seq, cause)| {
        let reason = cause.to_string();
        let _ = store.quarantine(&mut st, seq, RecordKind::Entry, cause);
        Damage {
            record: RecordKind::Entry,
            seq,
            reason,
        }
    });
    Ok(RawRead { entries, damage })
}

/// The latest snapshot of `stream` and every entry after it.
pub(crate) fn restore<S: Versioned, T: Versioned>(
    store: &Store,
    stream: &str,
) -> Result<Restored<S, T>> {
    let snapshot = latest_snapshot::<S>(store, stream)?;
    let from = snapshot.as_ref().map_or(1, |s| s.at_seq + 1);
    let entries = read_from::<T>(store, stream, from)?;
    Ok(Restored { snapshot, entries })
}

/// A summary of every stream, ordered by id.
pub(crate) fn streams(store: &Store) -> Result<Vec<StreamInfo>> {
    let handles = store.handles();
    handles
        .iter()
        .map(|h| info(store, &lock_state(h)))
        .collect()
}

/// A summary of one stream: counts, first and last seq and time, deletion and quarantine.
pub(crate) fn stream_info(store: &Store, stream: &str) -> Result<StreamInfo> {
    let handle = store.stream(stream)?;
    let st = lock_state(&handle);
    info(store, &st)
}

/// Lifts the quarantine of `stream`, durably.
pub(crate) fn clear_quarantine(store: &Store, stream: &str) -> Result<()> {
    let handle = store.stream(stream)?;
    {
        let mut st = store.lock_stream(&handle);
        st.meta.quarantine = None;
        store.write_meta(&st)?;
    }
    store.make_durable()
}

/// Ids of every retained stream filed under `index_key`, oldest first.
pub(crate) fn lookup(store: &Store, index_key: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for row in store.trees().index.scan_prefix(index_prefix(index_key)) {
        let (key, _) = row.map_err(|e| Error::storage("read index", e))?;
        if let Some((k, id)) = split_index_row(&key)
            && k == index_key
        {
            ids.push(id);
        }
    }
    let handles: Vec<Option<StreamHandle>> = {
        let registry = store.registry_read();
        ids.iter().map(|id| registry.get(id).cloned()).collect()
    };
    let mut numbered: Vec<(u64, String)> = handles
        .into_iter()
        .zip(ids)
        .map(|(handle, id)| (handle.map_or(u64::MAX, |h| lock_state(&h).meta.no), id))
        .collect();
    numbered.sort();
    Ok(numbered.into_iter().map(|(_, id)| id).collect())
}

fn info(store: &Store, st: &StreamState) -> Result<StreamInfo> {
    let trees = store.trees();
    let no = st.meta.no;
    let read = |e| Error::storage(format!("read stream {}", st.id), e);
    let mut prefix = trees.entries.scan_prefix(stream_prefix(no));
    let first = prefix.next().transpose().map_err(read)?;
    let last = prefix
        .next_back()
        .transpose()
        .map_err(read)?
        .or_else(|| first.clone());
    let first_seq = match &first {
        Some((key, value)) => record_first_seq(key, value),
        None => st.last_seq + 1,
    };
    let first_ts = first
        .as_ref()
        .and_then(|(_, v)| batch::decode(v).ok().and_then(|d| d.first().map(|e| e.ts)));
    let last_ts = last
        .as_ref()
        .and_then(|(_, v)| batch::decode(v).ok().and_then(|d| d.last().map(|e| e.ts)));
    let last_entry = last.as_ref().map_or(0, |(key, _)| key_seq(key));
    let snapshot = last_stored_seq(&trees.snapshots, no).map_err(read)?;
    Ok(StreamInfo {
        id: st.id.clone(),
        index_key: st.meta.index_key.clone(),
        first_seq,
        last_seq: st.last_seq,
        count: if first.is_some() {
            (last_entry + 1).saturating_sub(first_seq)
        } else {
            0
        },
        first_ts,
        last_ts,
        snapshot_seq: (snapshot != 0).then_some(snapshot),
        deleted_at: st.meta.deleted_at,
        quarantined: st.meta.quarantine.clone(),
    })
}
