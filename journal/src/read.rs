//! Reading streams: typed reads with upcasting, raw reads for inspection,
//! restore (latest snapshot + tail), stream summaries, and quarantine.
//!
//! Invariants:
//! - a read returns entries with consecutive seqs starting exactly at the
//!   requested seq, or an error — never a silently shortened or gapped list;
//! - any record that fails to decode quarantines its stream (persisted in the
//!   stream's metadata) and yields [`Error::Damaged`] naming stream and seq;
//! - typed reads of a quarantined stream fail with [`Error::Quarantined`]
//!   (normal consumers skip it); raw reads still work, for inspection.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::Timestamp;
use crate::batch;
use crate::envelope::{Decoded, EnvelopeError};
use crate::error::{DamageCause, Error, RecordKind, Result};
use crate::journal::{Journal, last_stored_seq, lock_state};
use crate::keys::{seq_key, split_seq_key, stream_prefix};
use crate::schema::{self, Versioned};
use crate::snapshot::Snapshot;
use crate::stream::{Quarantine, StreamInfo, StreamState};

/// One decoded entry.
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
    /// Sequence number within its stream.
    pub seq: u64,
    /// The caller-supplied time.
    pub ts: Timestamp,
    /// The schema version it was written with.
    pub version: u32,
    /// The payload exactly as stored.
    pub payload: Box<RawValue>,
}

/// A damaged record found by a raw read or by `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    /// Entry or snapshot.
    pub record: RecordKind,
    /// Its seq (or the seq where one is missing).
    pub seq: u64,
    /// What is wrong, in words.
    pub reason: String,
}

/// The result of a raw read: the readable entries up to the first damaged
/// one, and the damage if any.
#[derive(Debug, Clone)]
pub struct RawRead {
    /// Entries in seq order.
    pub entries: Vec<RawEntry>,
    /// The first damaged record, where reading stopped.
    pub damage: Option<Damage>,
}

/// What a caller needs to rebuild a stream's state: the latest snapshot and
/// every entry after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored<S, T> {
    /// The latest snapshot, if any.
    pub snapshot: Option<Snapshot<S>>,
    /// The entries after the snapshot (or all entries without one).
    pub entries: Vec<Entry<T>>,
}

/// The seq in an entry or snapshot key (0 if malformed).
pub(crate) fn key_seq(key: &[u8]) -> u64 {
    split_seq_key(key).map_or(0, |(_, seq)| seq)
}

/// The first seq held by the entry record at `key`; if the record does not
/// decode, its key seq (the scan that meets it reports the damage).
pub(crate) fn record_first_seq(key: &[u8], value: &[u8]) -> u64 {
    let last = key_seq(key);
    match batch::decode(value) {
        Ok(entries) => (last + 1).saturating_sub(entries.len() as u64).max(1),
        Err(_) => last,
    }
}

/// Parses a payload as JSON text, keeping its bytes.
pub(crate) fn raw_json(payload: &[u8]) -> Result<Box<RawValue>, EnvelopeError> {
    serde_json::from_slice::<Box<RawValue>>(payload).map_err(|e| EnvelopeError::Json(e.to_string()))
}

impl Journal {
    /// Entries of `stream` from seq `from` (1 = the beginning) to the end,
    /// decoded as `T` (upcasting older schema versions).
    ///
    /// Fails with [`Error::Pruned`] if `from` is before the first retained
    /// entry (start from the latest snapshot instead: see
    /// [`Journal::restore`]), [`Error::Quarantined`] for a quarantined stream
    /// and [`Error::Damaged`] (after quarantining) on a damaged entry.
    pub fn read_from<T: Versioned>(&self, stream: &str, from: u64) -> Result<Vec<Entry<T>>> {
        let handle = self.stream(stream)?;
        let mut st = self.lock_stream(&handle);
        check_not_quarantined(&st)?;
        let mut out = Vec::new();
        let damage = self.scan_entries(&st, from, |seq, d| {
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
            return Err(self.quarantine(&mut st, seq, RecordKind::Entry, cause));
        }
        Ok(out)
    }

    /// Entries of `stream` from seq `from` with payloads as stored, for
    /// inspection; works on quarantined streams and stops at the first
    /// damaged entry (which it reports, and quarantines the stream for).
    pub fn read_raw_from(&self, stream: &str, from: u64) -> Result<RawRead> {
        let handle = self.stream(stream)?;
        let mut st = self.lock_stream(&handle);
        let mut entries = Vec::new();
        let damage = self.scan_entries(&st, from, |seq, d| {
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
            let _ = self.quarantine(&mut st, seq, RecordKind::Entry, cause);
            Damage {
                record: RecordKind::Entry,
                seq,
                reason,
            }
        });
        Ok(RawRead { entries, damage })
    }

    /// The latest snapshot of `stream` (as `S`) and every entry after it (as
    /// `T`): what a caller replays to rebuild the stream's state.
    pub fn restore<S: Versioned, T: Versioned>(&self, stream: &str) -> Result<Restored<S, T>> {
        let snapshot = self.latest_snapshot::<S>(stream)?;
        let from = snapshot.as_ref().map_or(1, |s| s.at_seq + 1);
        let entries = self.read_from::<T>(stream, from)?;
        Ok(Restored { snapshot, entries })
    }

    /// A summary of every stream, ordered by id (quarantined and deleted
    /// streams included, flagged).
    pub fn streams(&self) -> Result<Vec<StreamInfo>> {
        let handles: Vec<_> = self.registry_read().values().cloned().collect();
        handles.iter().map(|h| self.info(&lock_state(h))).collect()
    }

    /// A summary of one stream.
    pub fn stream_info(&self, stream: &str) -> Result<StreamInfo> {
        let handle = self.stream(stream)?;
        let st = lock_state(&handle);
        self.info(&st)
    }

    /// Lifts the quarantine of `stream` (after a human looked at it). The
    /// damage is still there: the next read that meets it quarantines again.
    pub fn clear_quarantine(&self, stream: &str) -> Result<()> {
        let handle = self.stream(stream)?;
        {
            let mut st = self.lock_stream(&handle);
            st.meta.quarantine = None;
            self.write_meta(&st)?;
        }
        self.make_durable()
    }

    // ---- crate-internal ----

    fn info(&self, st: &StreamState) -> Result<StreamInfo> {
        let trees = &self.inner.trees;
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

    /// First seq stored for the stream (or `last_seq + 1` if none).
    pub(crate) fn first_available(&self, st: &StreamState) -> Result<u64> {
        match self
            .inner
            .trees
            .entries
            .scan_prefix(stream_prefix(st.meta.no))
            .next()
        {
            Some(row) => {
                let (key, value) = row.map_err(|e| Error::storage(format!("read {}", st.id), e))?;
                Ok(record_first_seq(&key, &value))
            }
            None => Ok(st.last_seq + 1),
        }
    }

    /// Walks entries from `from`, checking contiguity and records and
    /// calling `visit` on each. Returns the first damage found, if any.
    pub(crate) fn scan_entries(
        &self,
        st: &StreamState,
        from: u64,
        mut visit: impl FnMut(u64, Decoded<'_>) -> Result<(), DamageCause>,
    ) -> Result<Option<(u64, DamageCause)>> {
        let start = from.max(1);
        let first = self.first_available(st)?;
        if start < first && start <= st.last_seq {
            return Err(Error::Pruned {
                stream: st.id.clone(),
                requested: start,
                first_available: first,
            });
        }
        let no = st.meta.no;
        let mut expected = start;
        let mut first_record = true;
        // Records are keyed by their last seq: the first key >= start holds it.
        for row in self
            .inner
            .trees
            .entries
            .range(seq_key(no, start)..=seq_key(no, u64::MAX))
        {
            let (key, value) = row.map_err(|e| Error::storage(format!("read {}", st.id), e))?;
            let last = key_seq(&key);
            let decoded = match batch::decode(&value) {
                Ok(d) => d,
                Err(e) => return Ok(Some((expected, e.into()))),
            };
            let n = decoded.len() as u64;
            let Some(record_first) = (last + 1).checked_sub(n).filter(|f| *f >= 1) else {
                let why = format!("record at seq {last} holds {n} entries");
                return Ok(Some((expected, EnvelopeError::Malformed(why).into())));
            };
            let contiguous = if first_record {
                record_first <= expected
            } else {
                record_first == expected
            };
            if !contiguous {
                let cause = DamageCause::Gap {
                    expected,
                    found: Some(record_first),
                };
                return Ok(Some((expected, cause)));
            }
            for (seq, entry) in (record_first..).zip(decoded) {
                if seq < expected {
                    continue;
                }
                if let Err(cause) = visit(seq, entry) {
                    return Ok(Some((seq, cause)));
                }
            }
            expected = last + 1;
            first_record = false;
        }
        if expected <= st.last_seq {
            return Ok(Some((
                expected,
                DamageCause::Gap {
                    expected,
                    found: None,
                },
            )));
        }
        Ok(None)
    }

    /// Quarantines the stream (persisting the mark) and returns the error to
    /// report.
    pub(crate) fn quarantine(
        &self,
        st: &mut StreamState,
        seq: u64,
        record: RecordKind,
        cause: DamageCause,
    ) -> Error {
        if st.meta.quarantine.is_none() {
            st.meta.quarantine = Some(Quarantine {
                seq,
                record,
                reason: cause.to_string(),
            });
            // Best effort: if this write fails the mark is lost, but the damage
            // stays and the next read that meets it quarantines again.
            let _ = self.write_meta(st);
        }
        Error::Damaged {
            stream: st.id.clone(),
            seq,
            record,
            cause,
        }
    }
}

pub(crate) fn check_not_quarantined(st: &StreamState) -> Result<()> {
    match &st.meta.quarantine {
        Some(q) => Err(Error::Quarantined {
            stream: st.id.clone(),
            seq: q.seq,
            record: q.record,
            reason: q.reason.clone(),
        }),
        None => Ok(()),
    }
}
