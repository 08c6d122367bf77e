//! `rayop-journal`: a durable, generic, per-stream event journal on sled
//! 0.34.7.
//!
//! The crate stores serde payloads in *streams*. It knows nothing of Ray or
//! Kubernetes: a stream is named by an opaque id (rayop passes an object's
//! UID, because a name can be reused after delete and recreate) and filed
//! under an opaque *index key* (rayop passes `namespace/name`), which maps to
//! every stream ever seen under it.
//!
//! # Guarantees
//! - **Durable acknowledgement.** [`Journal::append`] returns only after its
//!   entries are flushed by sled *and* `fsync`ed (see [`Durability`] for what
//!   sled's own flush does and does not promise, and why the extra fsync).
//!   Concurrent appenders are group-committed: one flush covers all writers
//!   that were waiting ([`Journal::flush_count`] counts flushes).
//! - **Contiguous sequences.** Each stream's entries are numbered 1, 2, 3, …
//!   and an append's entries are stored atomically.
//! - **No clock in the data path.** Entry and snapshot timestamps come from
//!   the caller; retention takes `now` as a parameter.
//! - **Damage is reported, never a panic.** A damaged record yields
//!   [`Error::Damaged`] with stream and seq and quarantines its stream; a
//!   database that cannot be opened is moved aside and a fresh one started,
//!   reported in [`OpenReport`].
//! - **One process at a time**, with an error naming the holder
//!   ([`Error::Locked`]); copy the directory to inspect a live journal.
//!
//! # Use from async code
//! Every method blocks (disk I/O, waiting for the group flush). `Journal` is
//! `Send + Sync + Clone`; from async code move a clone into
//! `tokio::task::spawn_blocking`.
//!
//! # Example
//! ```
//! use rayop_journal::{Journal, Options, Timestamp, Versioned};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Event { what: String }
//! impl Versioned for Event { const VERSION: u32 = 1; }
//!
//! let dir = tempfile::tempdir()?;
//! let (journal, report) = Journal::open(dir.path(), Options::default())?;
//! assert!(report.is_clean());
//! let seqs = journal.append("uid-1", "default/demo", &[
//!     (Timestamp::from_millis(1_000), Event { what: "created".into() }),
//! ])?;
//! assert_eq!(seqs, 1..2);
//! let entries = journal.read_from::<Event>("uid-1", 1)?;
//! assert_eq!(entries[0].payload.what, "created");
//! assert_eq!(journal.lookup("default/demo")?, vec!["uid-1".to_string()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod append;
mod batch;
mod commit;
mod compaction;
mod damage;
mod durability;
mod envelope;
mod error;
mod export;
mod group_commit;
mod import;
mod journal;
mod keys;
mod layout;
mod load;
mod lock;
mod open;
mod options;
mod owner;
mod read;
mod records;
mod recovery;
mod retention;
mod schema;
mod snapshot;
mod store;
mod stream;
mod timestamp;
mod transfer;
mod trees;
mod verify;
mod watermark;

pub use compaction::CompactReport;
pub use damage::{DamagePolicy, LostWrites, MovedAside, OpenReport};
pub use durability::Durability;
pub use envelope::EnvelopeError;
pub use error::{DamageCause, Error, RecordKind, Result};
pub use journal::Journal;
pub use layout::{DB_DIR, disk_usage};
pub use lock::{OWNER_FILE, read_owner_file};
pub use options::Options;
pub use owner::Owner;
pub use read::{Damage, Entry, RawEntry, RawRead, Restored};
pub use retention::PruneReport;
pub use schema::{DecodeError, UpcastError, Versioned};
pub use snapshot::{RawSnapshot, Snapshot};
pub use stream::{Quarantine, StreamInfo};
pub use timestamp::Timestamp;
pub use transfer::TransferSummary;
pub use trees::JOURNAL_FORMAT;
pub use verify::{Problem, StreamCheck, VerifyReport};
pub use watermark::WATERMARK_FILE;
