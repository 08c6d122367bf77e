//! The [`Journal`] handle: the crate's public operations, each delegating to
//! the module that implements it over the shared [`Store`].
//!
//! Layering of the crate (a module imports only modules on lower lines):
//!
//! ```text
//! journal       this handle
//! compaction    offline rewrite: open + export + import + swap
//! append read snapshot retention verify export import
//!               the operations, as functions over a `&Store`
//! open load     opening a directory into a `Store`
//! store         trees + stream registry + commit + options + lock
//! records commit recovery lock layout transfer
//!               record scans, durability barrier, interrupted compaction,
//!               directory lock, paths, export line format
//! trees keys batch envelope schema stream error owner damage durability
//! watermark group_commit options timestamp
//!               sled handles, key and value codecs, plain data, errors
//! ```
//!
//! Invariants:
//! - every method that writes (appends, snapshots, deletion marks, clearing
//!   a quarantine, prune, import) returns `Ok` only after a group flush that
//!   started after its writes (see `commit`); the quarantine mark a read
//!   sets is best effort and becomes durable with the next flush;
//! - `Journal` is `Send + Sync` and cheap to clone (one `Arc`); all clones
//!   share one database, one lock and one group-commit coordinator.
//!
//! All methods block (on I/O and on the group flush). From async code call
//! them inside `tokio::task::spawn_blocking` (or an equivalent), with a clone
//! of the journal moved into the closure.

use std::io::{BufRead, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::compaction::{self, CompactReport};
use crate::damage::OpenReport;
use crate::error::Result;
use crate::layout::db_usage;
use crate::options::Options;
use crate::read::{Entry, RawRead, Restored};
use crate::retention::PruneReport;
use crate::schema::Versioned;
use crate::snapshot::{RawSnapshot, Snapshot};
use crate::store::Store;
use crate::stream::StreamInfo;
use crate::timestamp::Timestamp;
use crate::transfer::TransferSummary;
use crate::verify::VerifyReport;
use crate::{append, export, import, open, read, retention, snapshot, verify};

/// A handle on an open journal. Cheap to clone; all clones share one
/// database, one lock and one group-commit coordinator.
#[derive(Clone)]
pub struct Journal {
    store: Arc<Store>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.store.dir())
            .finish_non_exhaustive()
    }
}

impl Journal {
    // ---- opening and maintenance ----

    /// Opens (creating if needed) the journal in directory `dir`.
    ///
    /// Fails with [`crate::Error::Locked`] if another process (or another
    /// handle in this process) holds it. A damaged database is moved aside
    /// and a fresh one started; the returned [`OpenReport`] says so.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<(Journal, OpenReport)> {
        let (store, report) = open::open(dir.as_ref(), options)?;
        let journal = Journal {
            store: Arc::new(store),
        };
        Ok((journal, report))
    }

    /// Rewrites the (closed) journal in `dir` into a fresh database without
    /// sled's garbage (export, then import into a new database, then swap;
    /// an interrupted compaction is finished or undone by the next open).
    /// Takes the directory's lock for the whole operation (fails with
    /// [`crate::Error::Locked`] if it is open), so run it before opening the
    /// journal, for example at start-up when [`Journal::disk_usage`] has
    /// grown well past the export size.
    pub fn compact(dir: impl AsRef<Path>, options: Options) -> Result<CompactReport> {
        compaction::compact(dir.as_ref(), options)
    }

    /// The journal directory as given to [`Journal::open`]; the database lives in its `db/`.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// The options the journal was opened with.
    pub fn options(&self) -> &Options {
        self.store.options()
    }

    // ---- writing ----

    /// Appends `entries` (event time, payload) to `stream`, creating the
    /// stream under `index_key` if it is new, and returns their sequence
    /// numbers once they are durable.
    ///
    /// An empty `entries` returns an empty range without writing. Fails with
    /// [`crate::Error::IndexKeyMismatch`] if the stream exists under another
    /// index key. On [`crate::Error::Durability`] the entries may or may not
    /// be stored. Appending to a quarantined or deleted stream is allowed:
    /// new history is still recorded (a deleted stream's late events until
    /// retention removes it).
    pub fn append<T: Versioned>(
        &self,
        stream: &str,
        index_key: &str,
        entries: &[(Timestamp, T)],
    ) -> Result<Range<u64>> {
        append::append(&self.store, stream, index_key, entries)
    }

    /// Appends one entry; see [`Journal::append`]. Returns its seq.
    pub fn append_one<T: Versioned>(
        &self,
        stream: &str,
        index_key: &str,
        ts: Timestamp,
        payload: &T,
    ) -> Result<u64> {
        append::append_one(&self.store, stream, index_key, ts, payload)
    }

    /// Marks `stream` as deleted at `at`; retention removes it entirely once
    /// `deleted_retention` has passed after `at`. Appends remain possible
    /// until then (late events are still recorded).
    pub fn mark_deleted(&self, stream: &str, at: Timestamp) -> Result<()> {
        append::mark_deleted(&self.store, stream, at)
    }

    /// Stores `state` as the snapshot of `stream` after entry `at_seq`, and
    /// returns once it is durable.
    pub fn put_snapshot<S: Versioned>(
        &self,
        stream: &str,
        at_seq: u64,
        ts: Timestamp,
        state: &S,
    ) -> Result<()> {
        snapshot::put_snapshot(&self.store, stream, at_seq, ts, state)
    }

    // ---- reading ----

    /// Entries of `stream` from seq `from` (1 = the beginning) to the end,
    /// decoded as `T` (upcasting older schema versions).
    ///
    /// Fails with [`crate::Error::Pruned`] if `from` is before the first
    /// retained entry (start from the latest snapshot instead: see
    /// [`Journal::restore`]), [`crate::Error::Quarantined`] for a quarantined
    /// stream and [`crate::Error::Damaged`] (after quarantining) on a damaged
    /// entry.
    pub fn read_from<T: Versioned>(&self, stream: &str, from: u64) -> Result<Vec<Entry<T>>> {
        read::read_from(&self.store, stream, from)
    }

    /// Entries of `stream` from seq `from` with payloads as stored, for
    /// inspection; works on quarantined streams and stops at the first
    /// damaged entry (which it reports, and quarantines the stream for).
    pub fn read_raw_from(&self, stream: &str, from: u64) -> Result<RawRead> {
        read::read_raw_from(&self.store, stream, from)
    }

    /// The latest snapshot of `stream` (as `S`) and every entry after it (as
    /// `T`): what a caller replays to rebuild the stream's state.
    pub fn restore<S: Versioned, T: Versioned>(&self, stream: &str) -> Result<Restored<S, T>> {
        read::restore(&self.store, stream)
    }

    /// The latest snapshot of `stream`, decoded as `S` (upcasting older
    /// versions). A damaged snapshot quarantines the stream.
    pub fn latest_snapshot<S: Versioned>(&self, stream: &str) -> Result<Option<Snapshot<S>>> {
        snapshot::latest_snapshot(&self.store, stream)
    }

    /// The latest snapshot of `stream` with its state as stored, for
    /// inspection (works on quarantined streams).
    pub fn latest_snapshot_raw(&self, stream: &str) -> Result<Option<RawSnapshot>> {
        snapshot::latest_snapshot_raw(&self.store, stream)
    }

    /// A summary of every stream, ordered by id (quarantined and deleted
    /// streams included, flagged).
    pub fn streams(&self) -> Result<Vec<StreamInfo>> {
        read::streams(&self.store)
    }

    /// A summary of one stream, quarantined or deleted alike; [`crate::Error::UnknownStream`] if
    /// absent.
    pub fn stream_info(&self, stream: &str) -> Result<StreamInfo> {
        read::stream_info(&self.store, stream)
    }

    /// Ids of every retained stream ever filed under `index_key`, oldest
    /// first (deleted and recreated objects keep their old streams until
    /// retention removes them).
    pub fn lookup(&self, index_key: &str) -> Result<Vec<String>> {
        read::lookup(&self.store, index_key)
    }

    /// Lifts the quarantine of `stream` (after a human looked at it). The
    /// damage is still there: the next read that meets it quarantines again.
    pub fn clear_quarantine(&self, stream: &str) -> Result<()> {
        read::clear_quarantine(&self.store, stream)
    }

    // ---- retention, integrity, transfer ----

    /// Applies the retention rules as of `now` (see [`PruneReport`] and the
    /// crate README), and waits until the removals are durable.
    pub fn prune(&self, now: Timestamp) -> Result<PruneReport> {
        retention::prune(&self.store, now)
    }

    /// Checks the integrity of every stream: contiguous seqs, decodable
    /// records, a usable latest snapshot, index rows, and records of no known
    /// stream. Reads everything and never quarantines; takes each stream's
    /// lock while checking it.
    pub fn verify(&self) -> Result<VerifyReport> {
        verify::verify(&self.store)
    }

    /// Writes every stream as JSON lines: a `journal` line, then per stream
    /// (in id order) a `stream` line, its snapshots and its entries, with
    /// payloads verbatim; a damaged record becomes a `damaged` line.
    pub fn export(&self, w: impl Write) -> Result<TransferSummary> {
        export::export(&self.store, w)
    }

    /// Writes the named streams as JSON lines (see [`Journal::export`]).
    pub fn export_streams(&self, w: impl Write, ids: &[&str]) -> Result<TransferSummary> {
        export::export_streams(&self.store, w, ids)
    }

    /// Reads JSON lines written by [`Journal::export`] and adds their streams
    /// to this journal, durably. Fails on the first bad line, naming it; a
    /// stream that already exists is an error (nothing is merged).
    pub fn import(&self, r: impl BufRead) -> Result<TransferSummary> {
        import::import(&self.store, r)
    }

    // ---- durability and measurement ----

    /// Waits until everything written so far is durable.
    pub fn flush(&self) -> Result<()> {
        self.store.make_durable()
    }

    /// Number of group flushes run so far (each covers one or more appends).
    pub fn flush_count(&self) -> u64 {
        self.store.flush_count()
    }

    /// Number of durable waits requested so far (appends, snapshots, marks).
    pub fn durable_waits(&self) -> u64 {
        self.store.durable_waits()
    }

    /// Bytes used by the journal's database files (see
    /// [`crate::disk_usage`]).
    pub fn disk_usage(&self) -> Result<u64> {
        db_usage(self.store.dir())
    }
}
