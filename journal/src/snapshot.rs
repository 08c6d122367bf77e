//! Snapshots: the caller's state after applying entry `at_seq`, so replay of
//! a long stream starts from the latest snapshot instead of seq 1.
//!
//! The caller decides when to snapshot (see [`crate::Options::should_snapshot`]
//! and [`crate::Options::snapshot_due`]). Snapshots use the same envelope as
//! entries (schema version, timestamp, JSON, CRC) and are keyed by
//! `stream no ‖ at_seq` in their own tree.
//!
//! Invariants:
//! - a snapshot is only accepted at a seq the stream has reached
//!   (`1 ..= last_seq`), and `put_snapshot` returns once it is durable;
//! - retention never removes the latest snapshot of a retained stream, nor
//!   any entry after it, so `restore` always has what it needs;
//! - a snapshot that does not decode quarantines its stream.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::envelope::{self, raw_json};
use crate::error::{DamageCause, Error, RecordKind, Result};
use crate::keys::{seq_key, split_seq_key, stream_prefix};
use crate::schema::{self, Versioned};
use crate::store::Store;
use crate::timestamp::Timestamp;

/// A decoded snapshot: the caller's state after entry `at_seq`, upcast to the reader's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot<S> {
    /// The state reflects entries `1 ..= at_seq`.
    pub at_seq: u64,
    /// The caller-supplied time of the snapshot.
    pub ts: Timestamp,
    /// The schema version it was written with.
    pub version: u32,
    /// The state, upcast to the reader's version.
    pub state: S,
}

/// A snapshot with its state left as JSON text.
#[derive(Debug, Clone, Serialize)]
pub struct RawSnapshot {
    /// The state reflects entries `1 ..= at_seq`.
    pub at_seq: u64,
    /// The caller-supplied time, stored verbatim; the journal never reads a clock for it.
    pub ts: Timestamp,
    /// The schema version it was written with.
    pub version: u32,
    /// The state's JSON exactly as stored, not upcast.
    pub state: Box<RawValue>,
}

/// Stores `state` as the snapshot of `stream` after entry `at_seq`, and
/// returns once it is durable.
pub(crate) fn put_snapshot<S: Versioned>(
    store: &Store,
    stream: &str,
    at_seq: u64,
    ts: Timestamp,
    state: &S,
) -> Result<()> {
    let json = schema::to_json(state).map_err(|source| Error::Serialize {
        what: "snapshot state",
        source,
    })?;
    let bytes = envelope::encode(S::VERSION, ts, &json);
    let handle = store.stream(stream)?;
    {
        let st = store.lock_stream(&handle);
        if at_seq == 0 || at_seq > st.last_seq {
            return Err(Error::SnapshotOutOfRange {
                stream: stream.to_string(),
                at_seq,
                last_seq: st.last_seq,
            });
        }
        store
            .trees()
            .snapshots
            .insert(seq_key(st.meta.no, at_seq), bytes)
            .map_err(|e| Error::storage(format!("snapshot stream {stream}"), e))?;
    }
    store.make_durable()
}

/// The latest snapshot of `stream`, decoded as `S` (upcasting older
/// versions). A damaged snapshot quarantines the stream.
pub(crate) fn latest_snapshot<S: Versioned>(
    store: &Store,
    stream: &str,
) -> Result<Option<Snapshot<S>>> {
    let handle = store.stream(stream)?;
    let mut st = store.lock_stream(&handle);
    st.check_not_quarantined()?;
    let Some((at_seq, bytes)) = latest_snapshot_bytes(store, st.meta.no, stream)? else {
        return Ok(None);
    };
    let decoded = envelope::decode(&bytes)
        .map_err(DamageCause::from)
        .and_then(|d| {
            let state = schema::decode_payload::<S>(d.version, d.payload)?;
            Ok(Snapshot {
                at_seq,
                ts: d.ts,
                version: d.version,
                state,
            })
        });
    match decoded {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(cause) => Err(store.quarantine(&mut st, at_seq, RecordKind::Snapshot, cause)),
    }
}

/// The latest snapshot of `stream` with its state as stored, for inspection
/// (works on quarantined streams).
pub(crate) fn latest_snapshot_raw(store: &Store, stream: &str) -> Result<Option<RawSnapshot>> {
    let handle = store.stream(stream)?;
    let mut st = store.lock_stream(&handle);
    let Some((at_seq, bytes)) = latest_snapshot_bytes(store, st.meta.no, stream)? else {
        return Ok(None);
    };
    let decoded = envelope::decode(&bytes).and_then(|d| {
        Ok(RawSnapshot {
            at_seq,
            ts: d.ts,
            version: d.version,
            state: raw_json(d.payload)?,
        })
    });
    match decoded {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(e) => Err(store.quarantine(&mut st, at_seq, RecordKind::Snapshot, e.into())),
    }
}

fn latest_snapshot_bytes(
    store: &Store,
    no: u64,
    stream: &str,
) -> Result<Option<(u64, sled::IVec)>> {
    let Some(row) = store
        .trees()
        .snapshots
        .scan_prefix(stream_prefix(no))
        .next_back()
    else {
        return Ok(None);
    };
    let (key, value) = row.map_err(|e| Error::storage(format!("read snapshot of {stream}"), e))?;
    Ok(split_seq_key(&key).map(|(_, at)| (at, value)))
}
