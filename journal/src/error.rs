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

/// Result alias for journal operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which kind of stored record an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A stream entry.
    Entry,
    /// A snapshot.
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

/// Errors returned by the journal.
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
        /// The journal directory.
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
        /// The journal directory.
        dir: PathBuf,
        /// Format found on disk.
        found: u32,
        /// Newest format this build reads.
        supported: u32,
    },

    /// The database is damaged and [`crate::DamagePolicy::Report`] forbade
    /// moving it aside.
    #[error("journal database {dir} is damaged: {reason}")]
    DatabaseDamaged {
        /// The database directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// An operating-system I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What the journal was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// sled reported an error.
    #[error("{context}: {source}")]
    Storage {
        /// What the journal was doing.
        context: String,
        /// The underlying error.
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
        /// What was being serialized.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// A stored record is damaged or does not decode; the stream has been
    /// quarantined.
    #[error("stream {stream}: {record} {seq} is damaged ({cause}); the stream is quarantined")]
    Damaged {
        /// The stream id.
        stream: String,
        /// The sequence number of the entry (or the snapshot's `at_seq`).
        seq: u64,
        /// Entry or snapshot.
        record: RecordKind,
        /// What is wrong with it.
        cause: DamageCause,
    },

    /// The stream is quarantined and normal reads skip it.
    #[error(
        "stream {stream} is quarantined since {record} {seq} was found damaged ({reason}); \
         inspect it with verify/export, clear it with clear_quarantine"
    )]
    Quarantined {
        /// The stream id.
        stream: String,
        /// The damaged record's sequence number.
        seq: u64,
        /// Entry or snapshot.
        record: RecordKind,
        /// Why it was quarantined.
        reason: String,
    },

    /// The stream id is not in the journal.
    #[error("no stream {stream} in the journal")]
    UnknownStream {
        /// The stream id.
        stream: String,
    },

    /// An append named a different index key than the one the stream was
    /// created under.
    #[error("stream {stream} is indexed under {existing:?}, not {given:?}")]
    IndexKeyMismatch {
        /// The stream id.
        stream: String,
        /// Its recorded index key.
        existing: String,
        /// The index key given.
        given: String,
    },

    /// The requested entries were pruned by retention.
    #[error(
        "stream {stream}: entries before seq {first_available} were pruned (asked from {requested}); \
         start from the latest snapshot"
    )]
    Pruned {
        /// The stream id.
        stream: String,
        /// The first seq asked for.
        requested: u64,
        /// The first seq still stored.
        first_available: u64,
    },

    /// A snapshot was put at a sequence number the stream does not have.
    #[error(
        "stream {stream}: cannot snapshot at seq {at_seq}, the stream's last seq is {last_seq}"
    )]
    SnapshotOutOfRange {
        /// The stream id.
        stream: String,
        /// The requested snapshot position.
        at_seq: u64,
        /// The stream's last seq.
        last_seq: u64,
    },

    /// A line of a JSON-lines import is not acceptable.
    #[error("import line {line}: {reason}")]
    Import {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
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
