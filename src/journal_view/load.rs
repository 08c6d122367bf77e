//! Reading streams without changing the journal, and decoding their records.
//!
//! Role: turn `<namespace/name or uid>` into stream ids ([`resolve`]), a
//! stream into a [`StreamDump`] (its metadata, snapshots and entries with
//! payloads as stored, plus any damage found), and a target into the
//! journal's JSON-lines export ([`export_target`]).
//!
//! Streams are read through [`rayop_journal::Journal::export_streams`] and
//! its documented JSON-lines format (the same format as `rayop journal
//! export` and the golden fixtures), because it is the journal's one read
//! path that reports damage *without* quarantining the stream: typed reads
//! persist a quarantine mark, which an inspection must not do.
//!
//! Invariants:
//! - A dump holds the stream's retained entries in seq order, contiguous up
//!   to the first damaged record (reported in [`StreamDump::damaged`]).
//! - Payloads are decoded with the journal's rules ([`decode`]): the current
//!   schema version directly, older ones through [`Versioned::upcast`], newer
//!   ones refused.
//! - Decoding is generic over the stream's machine: the caller picks it from
//!   the stream's kind; nothing here knows which kinds exist.

use std::io::Write;

use rayop_journal::{Journal, Quarantine, RecordKind, Timestamp, TransferSummary, Versioned};
use rayop_machines::{ClusterMachine, Machine};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::ViewError;
use crate::journaling::MachineSnapshot;
use crate::record::Record;

/// One stored snapshot, state as stored.
#[derive(Debug, Clone)]
pub struct RawSnapshot {
    /// The state covers entries `1..=at_seq`; replay resumes at `at_seq + 1`.
    pub at_seq: u64,
    /// The time of the decision it followed (rayop snapshots right after an append).
    pub ts: Timestamp,
    /// Schema version it was written with, before any upcast.
    pub version: u32,
    /// The state's JSON as stored, not yet upcast; see [`decode_snapshot`].
    pub state: Box<RawValue>,
}

/// One stored entry, payload as stored.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// Sequence number in the stream, from 1 without gaps.
    pub seq: u64,
    /// The entry's time (rayop: the event time of its decision).
    pub ts: Timestamp,
    /// Schema version it was written with, before any upcast.
    pub version: u32,
    /// The payload's JSON as stored, not yet upcast; see [`decode`].
    pub payload: Box<RawValue>,
}

/// A damaged record, where reading stopped.
#[derive(Debug, Clone)]
pub struct DamagedRecord {
    /// Whether the damaged record is an entry or a snapshot.
    pub record: RecordKind,
    /// The damaged entry's seq, or the damaged snapshot's `at_seq`.
    pub seq: u64,
    /// The journal's reason (bad CRC, bad envelope, …), in words.
    pub reason: String,
}

/// Everything stored for one stream, read without quarantining it.
#[derive(Debug, Clone)]
pub struct StreamDump {
    /// The stream id (the object's UID).
    pub id: String,
    /// The index key (`namespace/name`, `RayJob:namespace/name`, see
    /// [`crate::journaling::StreamKind`]); streams of a reused name share it.
    pub key: String,
    /// The last seq ever appended; retention never lowers it.
    pub last_seq: u64,
    /// When the object was deleted, if it was.
    pub deleted_at: Option<Timestamp>,
    /// Where and why the stream was quarantined; `None` for a readable stream.
    pub quarantine: Option<Quarantine>,
    /// Snapshots by ascending `at_seq`; each prune leaves only the latest.
    pub snapshots: Vec<RawSnapshot>,
    /// Retained entries by ascending seq, contiguous up to the first damaged record.
    pub entries: Vec<RawEntry>,
    /// Damaged records in the order found; empty for a sound stream.
    pub damaged: Vec<DamagedRecord>,
}

impl StreamDump {
    /// First retained seq (`last_seq + 1` when none is retained).
    #[must_use]
    pub fn first_seq(&self) -> u64 {
        self.entries.first().map_or(self.last_seq + 1, |e| e.seq)
    }
}

#[derive(Deserialize)]
struct Peek {
    kind: String,
}

#[derive(Deserialize)]
struct StreamLine {
    id: String,
    index_key: String,
    last_seq: u64,
    #[serde(default)]
    deleted_at: Option<Timestamp>,
    #[serde(default)]
    quarantine: Option<Quarantine>,
}

#[derive(Deserialize)]
struct EntryLine {
    stream: String,
    seq: u64,
    ts: Timestamp,
    version: u32,
    payload: Box<RawValue>,
}

#[derive(Deserialize)]
struct SnapshotLine {
    stream: String,
    at_seq: u64,
    ts: Timestamp,
    version: u32,
    state: Box<RawValue>,
}

#[derive(Deserialize)]
struct DamagedLine {
    stream: String,
    record: RecordKind,
    seq: u64,
    reason: String,
}

/// Reads streams `ids` (in that order) without modifying the journal.
///
/// # Errors
/// The journal's error (for instance an unknown stream), or
/// [`ViewError::Export`] if its export cannot be read back.
pub fn load_streams(journal: &Journal, ids: &[String]) -> Result<Vec<StreamDump>, ViewError> {
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut buffer = Vec::new();
    journal.export_streams(&mut buffer, &refs)?;
    parse_export(&buffer)
}

/// Parses JSON lines in the journal's export format into stream dumps.
///
/// # Errors
/// [`ViewError::Export`] naming the line that does not parse.
pub fn parse_export(bytes: &[u8]) -> Result<Vec<StreamDump>, ViewError> {
    let mut dumps: Vec<StreamDump> = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |stream: &str, reason: String| ViewError::Export {
            stream: stream.to_owned(),
            reason: format!("export line {}: {reason}", n + 1),
        };
        let current = dumps.last().map_or("", |d| d.id.as_str());
        let peek: Peek = serde_json::from_slice(line).map_err(|e| bad(current, e.to_string()))?;
        match peek.kind.as_str() {
            "journal" => {}
            "stream" => {
                let s: StreamLine =
                    serde_json::from_slice(line).map_err(|e| bad(current, e.to_string()))?;
                dumps.push(StreamDump {
                    id: s.id,
                    key: s.index_key,
                    last_seq: s.last_seq,
                    deleted_at: s.deleted_at,
                    quarantine: s.quarantine,
                    snapshots: Vec::new(),
                    entries: Vec::new(),
                    damaged: Vec::new(),
                });
            }
            "entry" => {
                let e: EntryLine =
                    serde_json::from_slice(line).map_err(|e| bad(current, e.to_string()))?;
                let dump = owner(&mut dumps, &e.stream).map_err(|r| bad(&e.stream, r))?;
                dump.entries.push(RawEntry {
                    seq: e.seq,
                    ts: e.ts,
                    version: e.version,
                    payload: e.payload,
                });
            }
            "snapshot" => {
                let s: SnapshotLine =
                    serde_json::from_slice(line).map_err(|e| bad(current, e.to_string()))?;
                let dump = owner(&mut dumps, &s.stream).map_err(|r| bad(&s.stream, r))?;
                dump.snapshots.push(RawSnapshot {
                    at_seq: s.at_seq,
                    ts: s.ts,
                    version: s.version,
                    state: s.state,
                });
            }
            "damaged" => {
                let d: DamagedLine =
                    serde_json::from_slice(line).map_err(|e| bad(current, e.to_string()))?;
                let dump = owner(&mut dumps, &d.stream).map_err(|r| bad(&d.stream, r))?;
                dump.damaged.push(DamagedRecord {
                    record: d.record,
                    seq: d.seq,
                    reason: d.reason,
                });
            }
            other => return Err(bad(current, format!("unknown kind {other:?}"))),
        }
    }
    Ok(dumps)
}

/// The dump a record line belongs to: the stream line just before it.
fn owner<'a>(dumps: &'a mut [StreamDump], stream: &str) -> Result<&'a mut StreamDump, String> {
    match dumps.last_mut() {
        Some(dump) if dump.id == stream => Ok(dump),
        Some(dump) => Err(format!(
            "a record of stream {stream} inside stream {}",
            dump.id
        )),
        None => Err(format!(
            "a record of stream {stream} before any stream line"
        )),
    }
}

/// Decodes a stored payload written with schema `version` as `T`, with the
/// journal's rules: current version directly, older ones upcast, newer ones
/// refused.
///
/// # Errors
/// A sentence saying why it does not decode.
pub fn decode<T: Versioned>(version: u32, raw: &RawValue) -> Result<T, String> {
    use std::cmp::Ordering;
    match version.cmp(&T::VERSION) {
        Ordering::Equal => serde_json::from_str(raw.get()).map_err(|e| e.to_string()),
        Ordering::Greater => Err(format!(
            "schema version {version} is newer than this build's {} (use a newer rayop)",
            T::VERSION
        )),
        Ordering::Less => {
            let value: serde_json::Value =
                serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            let value = T::upcast(version, value).map_err(|e| e.to_string())?;
            serde_json::from_value(value).map_err(|e| e.to_string())
        }
    }
}

/// One entry decoded as a [`Record`] of machine `M` (the stream's kind's).
#[derive(Debug, Clone)]
pub struct DecodedEntry<M: Machine = ClusterMachine> {
    /// Sequence number in the stream.
    pub seq: u64,
    /// The entry's time: the event time of its decision.
    pub ts: Timestamp,
    /// The payload decoded (and upcast if older) as a [`Record`].
    pub record: Record<M>,
}

/// Decodes every entry of `dump` as a [`Record`] of machine `M`; the caller
/// picks `M` from the stream's kind ([`crate::journaling::StreamKind::of_key`]).
///
/// # Errors
/// The seq of the first entry that does not decode, and why.
pub fn decode_records<M: Machine>(
    dump: &StreamDump,
) -> Result<Vec<DecodedEntry<M>>, (u64, String)> {
    dump.entries
        .iter()
        .map(|e| {
            decode::<Record<M>>(e.version, &e.payload)
                .map(|record| DecodedEntry {
                    seq: e.seq,
                    ts: e.ts,
                    record,
                })
                .map_err(|reason| (e.seq, reason))
        })
        .collect()
}

/// Decodes a snapshot's state as a [`MachineSnapshot`] of machine `M`.
///
/// # Errors
/// Why it does not decode.
pub fn decode_snapshot<M: Machine>(snapshot: &RawSnapshot) -> Result<MachineSnapshot<M>, String> {
    decode::<MachineSnapshot<M>>(snapshot.version, &snapshot.state)
}

/// The stream ids `target` names: a UID, or every stream ever filed under a
/// `namespace/name`, newest first.
///
/// # Errors
/// [`ViewError::UnknownTarget`] when there is none.
pub fn resolve(journal: &Journal, target: &str) -> Result<Vec<String>, ViewError> {
    let unknown = || ViewError::UnknownTarget {
        target: target.to_owned(),
        dir: journal.dir().to_path_buf(),
    };
    if target.contains('/') {
        let mut ids = journal.lookup(target)?;
        if ids.is_empty() {
            return Err(unknown());
        }
        ids.reverse();
        return Ok(ids);
    }
    match journal.stream_info(target) {
        Ok(_) => Ok(vec![target.to_owned()]),
        Err(rayop_journal::Error::UnknownStream { .. }) => Err(unknown()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the streams `target` names ([`resolve`]: a UID, or every stream
/// filed under a `namespace/name`, newest first) to `out` in the journal's
/// JSON-lines export format, the bytes of `rayop journal export --stream`.
///
/// # Errors
/// [`ViewError::UnknownTarget`] when `target` names no stream; the journal's
/// error when reading or writing fails.
pub fn export_target(
    journal: &Journal,
    target: &str,
    out: impl Write,
) -> Result<TransferSummary, ViewError> {
    let ids = resolve(journal, target)?;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    Ok(journal.export_streams(out, &refs)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_journal_export_format() {
        let text = br#"{"kind":"journal","format":1}
{"kind":"stream","id":"u1","index_key":"ns/a","last_seq":3,"deleted_at":5}
{"kind":"snapshot","stream":"u1","at_seq":2,"ts":2,"version":1,"state":{"x":1}}
{"kind":"entry","stream":"u1","seq":1,"ts":1,"version":1,"payload":{"tick":1}}
{"kind":"entry","stream":"u1","seq":2,"ts":2,"version":1,"payload":"raw"}
{"kind":"damaged","stream":"u1","record":"entry","seq":3,"reason":"crc"}
{"kind":"stream","id":"u2","index_key":"ns/a","last_seq":0}
"#;
        let dumps = parse_export(text).unwrap();
        assert_eq!(dumps.len(), 2);
        let d = &dumps[0];
        assert_eq!(
            (d.id.as_str(), d.key.as_str(), d.last_seq),
            ("u1", "ns/a", 3)
        );
        assert_eq!(d.deleted_at, Some(Timestamp::from_millis(5)));
        assert_eq!(d.entries.len(), 2);
        assert_eq!(d.entries[1].payload.get(), "\"raw\"");
        assert_eq!(d.snapshots[0].at_seq, 2);
        assert_eq!(d.damaged[0].seq, 3);
        assert_eq!(d.first_seq(), 1);
        assert_eq!(dumps[1].first_seq(), 1);
        assert!(parse_export(b"{\"kind\":\"entry\",\"stream\":\"x\"}\n").is_err());
        assert!(parse_export(b"not json\n").is_err());
    }

    #[test]
    fn a_rayjob_stream_decodes_with_the_job_machine() {
        use super::super::sample;
        use rayop_machines::rayjob::{JobMachine, JobPhase};

        let tmp = tempfile::tempdir().unwrap();
        let journal = sample::journal_with_both_kinds(tmp.path());
        let ids = resolve(&journal, &sample::job_key()).unwrap();
        assert_eq!(ids, [sample::JOB_UID]);
        let dump = &load_streams(&journal, &ids).unwrap()[0];
        let records = decode_records::<JobMachine>(dump).unwrap();
        assert_eq!(records.len(), dump.entries.len());
        assert!(records.iter().any(|e| matches!(
            e.record,
            Record::Transition {
                to: JobPhase::Complete,
                ..
            }
        )));
        let last = dump.snapshots.last().unwrap();
        let machine = decode_snapshot::<JobMachine>(last).unwrap().0;
        assert_eq!(machine.phase(), JobPhase::Complete);
        // The kind matters: a job's records are not a cluster's.
        assert!(decode_records::<ClusterMachine>(dump).is_err());
    }

    #[test]
    fn newer_versions_are_refused() {
        let raw = RawValue::from_string("{\"tick\":1}".into()).unwrap();
        let err = decode::<Record>(crate::record::RECORD_VERSION + 1, &raw).unwrap_err();
        assert!(err.contains("newer"), "{err}");
    }
}
