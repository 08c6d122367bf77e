//! Streams: their persisted metadata, in-memory state, and public summary.
//!
//! A stream is identified by an opaque id (in rayop, a Kubernetes UID) and
//! filed under an opaque index key (in rayop, `namespace/name`). Internally
//! each stream gets a compact number that prefixes its entry keys.
//!
//! Invariants:
//! - a stream's entries are numbered 1, 2, 3, … without gaps; retention only
//!   ever removes a *prefix*, so the retained entries are always contiguous;
//! - `last_seq` in memory equals the highest seq ever appended (entries,
//!   snapshots and the at-least-one-entry retention rule keep it derivable
//!   from disk on reopen);
//! - all mutation of one stream happens under its `Mutex<StreamState>`.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::error::{Error, RecordKind, Result};

/// Why and where a stream was quarantined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    /// The damaged record's seq (a snapshot's `at_seq`).
    pub seq: u64,
    /// Whether the damaged record is an entry or a snapshot.
    pub record: RecordKind,
    /// The damage found, in words, as it was when the mark was written.
    pub reason: String,
}

/// Persisted metadata of one stream (the value in the `streams` tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamMeta {
    /// Internal number prefixing this stream's keys.
    pub no: u64,
    /// The index key the stream is filed under.
    pub index_key: String,
    /// When the stream's object was deleted, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// Set when a record was found damaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<Quarantine>,
}

/// In-memory state of one stream, guarded by its own mutex; `meta` mirrors the stored metadata.
#[derive(Debug)]
pub(crate) struct StreamState {
    pub id: String,
    pub meta: StreamMeta,
    /// Highest sequence number appended (0 if none).
    pub last_seq: u64,
    /// Set when retention removed the stream; holders of a stale handle
    /// must look the stream up again.
    pub removed: bool,
}

impl StreamState {
    /// Fails with [`Error::Quarantined`] if the stream is quarantined. Typed
    /// reads call this; raw reads, verify and export work on quarantined
    /// streams.
    pub(crate) fn check_not_quarantined(&self) -> Result<()> {
        match &self.meta.quarantine {
            Some(q) => Err(Error::Quarantined {
                stream: self.id.clone(),
                seq: q.seq,
                record: q.record,
                reason: q.reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// A summary of one stream, for listing and inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The stream id as the caller named it (rayop: the cluster's UID).
    pub id: String,
    /// The index key it is filed under.
    pub index_key: String,
    /// First retained seq (`last_seq + 1` when no entry is retained).
    pub first_seq: u64,
    /// Last appended seq (0 if none).
    pub last_seq: u64,
    /// Number of retained entries: `last_seq - first_seq + 1`, as they are contiguous.
    pub count: u64,
    /// Caller-supplied time of the first retained entry; `None` when none is retained.
    pub first_ts: Option<Timestamp>,
    /// Caller-supplied time of the last entry; `None` when no entry is retained.
    pub last_ts: Option<Timestamp>,
    /// Seq of the latest snapshot, if any.
    pub snapshot_seq: Option<u64>,
    /// When the caller marked the stream deleted; retention removes it `deleted_retention` later.
    pub deleted_at: Option<Timestamp>,
    /// Where and why the stream was quarantined; `None` for a readable stream.
    pub quarantined: Option<Quarantine>,
}
