//! The journal's typed errors.
//!
//! Invariant: every failure the journal can meet at run time — I/O, damage,
//! a lock held by another process, misuse — is a variant here; the crate has
//! no `unwrap`, `expect` or `panic!` outside tests. Messages name the stream
//! and sequence number when one is involved, and say what to do when there
//! is something the user can do.

use std::path::PathBuf;

use crate::envelope::EnvelopeError;
use crate::owner::Owner;
use crate::schema::DecodeError;

/// Result alias for journal operations; the error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which kind of stored record an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A stream entry, identified by its seq.
    Entry,
    /// A snapshot, identified by the seq it follows (`at_seq`).
    Snapshot,
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordKind::Entry => "entry",
            RecordKind::Snapshot => "snapshot",
        })
    }
}

/// Why a stored record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DamageCause {
    /// The stored bytes are not a valid envelope.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The envelope is fine but the payload does not decode into the
    /// reader's type.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A sequence number in the middle of the retained range is missing.
    #[error("entry {expected} is missing (next stored: {found:?})")]
    Gap {
        /// The seq that should be there.
        expected: u64,
        /// The seq found instead, if any.
        found: Option<u64>,
    },
}

/// Errors returned by the journal; each message names the stream and seq when one is involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the journal directory.
    #[error(
        "journal {dir} is in use by {holder}; sled allows one process at a time. \
         To inspect a live journal use the operator's debug endpoint \
         /debug/journal/<namespace>/<name>, or copy the directory and point --journal at the copy",
        holder = holder.as_ref().map_or_else(|| "another process (owner file unreadable)".to_string(), |h| h.to_string())
    )]
    Locked {
        /// The journal directory as passed to [`crate::Journal::open`].
        dir: PathBuf,
        /// The holder, from the owner file, if it could be read.
        holder: Option<Owner>,
    },

    /// The journal was written in an on-disk format newer than this build.
    #[error(
        "journal {dir} has on-disk format {found}, newer than the {supported} this build reads; \
         use a newer rayop"
    )]
    UnsupportedFormat {
        /// The journal directory as passed to [`crate::Journal::open`].
        dir: PathBuf,
        /// The format number stored in the database; greater than `supported`.
        found: u32,
        /// [`crate::JOURNAL_FORMAT`]: the newest format this build reads.
        supported: u32,
    },

    /// The database is damaged and [`crate::DamagePolicy::Report`] forbade
    /// moving it aside.
    #[error("journal database {dir} is damaged: {reason}")]
    DatabaseDamaged {
        /// The `db/` directory inside the journal directory, left where it is.
        dir: PathBuf,
        /// What failed when sled opened it, in words.
        reason: String,
    },

    /// An operating-system I/O error: the owner file, an fsync, a directory, export or import.
    #[error("{context}: {source}")]
    Io {
        /// What the journal was doing, naming the path, e.g. `fsync <dir>/db`.
        context: String,
        /// The I/O error as the operating system reported it.
        #[source]
        source: std::io::Error,
    },

    /// sled reported an error on a read, write, flush or batch.
    #[error("{context}: {source}")]
    Storage {
        /// What the journal was doing, naming the tree or stream.
        context: String,
        /// The error as sled reported it.
        #[source]
        source: sled::Error,
    },

    /// Waiting for durability failed: the entries may or may not be on disk.
    #[error("flush to disk failed, the outcome of the write is unknown: {reason}")]
    Durability {
        /// The failure reported by the flusher.
        reason: String,
    },

    /// A value could not be serialized to JSON.
    #[error("cannot serialize {what} as JSON: {source}")]
    Serialize {
        /// Which value: `entry payload`, `snapshot state`, `stream metadata` or `export line`.
        what: &'static str,
        /// serde_json's error; nothing was written.
        #[source]
        source: serde_json::Error,
    },

    /// A stored record is damaged or does not decode; the stream has been
    /// quarantined.
    #[error("stream {stream}: {record} {seq} is damaged ({cause}); the stream is quarantined")]
    Damaged {
        /// The stream id as the caller named it (rayop: the cluster's UID).
        stream: String,
        /// The sequence number of the entry (or the snapshot's `at_seq`).
        seq: u64,
        /// Whether the damaged record is an entry or a snapshot.
        record: RecordKind,
        /// The bad envelope, the payload that does not decode, or the gap.
        cause: DamageCause,
    },

    /// The stream is quarantined and normal reads skip it.
    #[error(
        "stream {stream} is quarantined since {record} {seq} was found damaged ({reason}); \
         inspect it with verify/export, clear it with clear_quarantine"
    )]
    Quarantined {
        /// The stream id as the caller named it (rayop: the cluster's UID).
        stream: String,
        /// The damaged record's seq (a snapshot's `at_seq`), as recorded in the quarantine mark.
        seq: u64,
        /// Whether the damaged record is an entry or a snapshot.
        record: RecordKind,
        /// The damage as recorded when the stream was quarantined, in words.
        reason: String,
    },

    /// The stream id is not in the journal.
    #[error("no stream {stream} in the journal")]
    UnknownStream {
        /// The stream id as the caller named it; only an append or an import creates a stream.
        stream: String,
    },

    /// An append named a different index key than the one the stream was
    /// created under.
    #[error("stream {stream} is indexed under {existing:?}, not {given:?}")]
    IndexKeyMismatch {
        /// The stream id as the caller named it.
        stream: String,
        /// The index key the stream was created under; it never changes.
        existing: String,
        /// The different index key this append named; nothing was appended.
        given: String,
    },

    /// The requested entries were pruned by retention.
    #[error(
        "stream {stream}: entries before seq {first_available} were pruned (asked from {requested}); \
         start from the latest snapshot"
    )]
    Pruned {
        /// The stream id as the caller named it.
        stream: String,
        /// The first seq the caller asked to read from.
        requested: u64,
        /// The oldest seq retention left; read from here or from the latest snapshot.
        first_available: u64,
    },

    /// A snapshot was put at a sequence number the stream does not have.
    #[error(
        "stream {stream}: cannot snapshot at seq {at_seq}, the stream's last seq is {last_seq}"
    )]
    SnapshotOutOfRange {
        /// The stream id as the caller named it.
        stream: String,
        /// The seq the snapshot was to follow; beyond `last_seq`.
        at_seq: u64,
        /// The stream's last appended seq; a snapshot may follow at most this one.
        last_seq: u64,
    },

    /// A line of a JSON-lines import is not acceptable.
    #[error("import line {line}: {reason}")]
    Import {
        /// 1-based line number in the import input, blank lines counted.
        line: usize,
        /// Why the line is refused (bad JSON, unknown kind, out of order, …).
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn storage(context: impl Into<String>, source: sled::Error) -> Self {
        Error::Storage {
            context: context.into(),
            source,
        }
    }
}
