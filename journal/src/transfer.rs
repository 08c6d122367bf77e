//! The JSON-lines format of export and import, so a journal can travel in a
//! bug report.
//!
//! One JSON object per line, each with a `kind` first:
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
//! Writing is in `export`, reading in `import`.
//!
//! Invariant: both use only the line types here, so they cannot disagree on
//! the format; a type's field order is its serialized key order, part of
//! the byte-for-byte round trip.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::RecordKind;
use crate::stream::Quarantine;
use crate::timestamp::Timestamp;

/// Counts of what an export or import handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TransferSummary {
    /// Streams, each written as (or read from) one `stream` line.
    pub streams: u64,
    /// Entries, one `entry` line each.
    pub entries: u64,
    /// Snapshots, one `snapshot` line each.
    pub snapshots: u64,
    /// Damaged records (written as / skipped from `damaged` lines).
    pub damaged: u64,
}

/// The first line: which format follows.
#[derive(Serialize, Deserialize)]
pub(crate) struct JournalLine {
    pub kind: String,
    pub format: u32,
}

/// A stream and its metadata; precedes its records.
#[derive(Serialize, Deserialize)]
pub(crate) struct StreamLine {
    pub kind: String,
    pub id: String,
    pub index_key: String,
    pub last_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<Quarantine>,
}

/// One entry, payload verbatim; follows its stream's `stream` line, in seq order.
#[derive(Serialize, Deserialize)]
pub(crate) struct EntryLine {
    pub kind: String,
    pub stream: String,
    pub seq: u64,
    pub ts: Timestamp,
    pub version: u32,
    pub payload: Box<RawValue>,
}

/// One snapshot, state verbatim; after its `stream` line, before the stream's entries.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotLine {
    pub kind: String,
    pub stream: String,
    pub at_seq: u64,
    pub ts: Timestamp,
    pub version: u32,
    pub state: Box<RawValue>,
}

/// A record that could not be read, in place of its line.
#[derive(Serialize, Deserialize)]
pub(crate) struct DamagedLine {
    pub kind: String,
    pub stream: String,
    pub record: RecordKind,
    pub seq: u64,
    pub reason: String,
}

/// Just the `kind` of a line, read first to pick its type.
#[derive(Deserialize)]
pub(crate) struct Peek {
    pub kind: String,
}
