//! Reading a journal without changing it: which streams a target names, the
//! streams as [`load::StreamDump`]s, their records decoded, and the
//! JSON-lines export of one cluster.
//!
//! Role: the one read path shared by the `rayop journal …` commands (in
//! `cli::journal`) and the operator's `/debug/journal` endpoint (in
//! `server::debug_journal`), so both resolve a `namespace/name` the same way
//! and the endpoint's bytes equal `rayop journal export --stream`'s.
//!
//! Layering: it imports [`crate::journaling`] and [`crate::record`] (whose
//! types it decodes) and nothing else of the crate; the server and the CLI
//! import it, never the other way round.
//!
//! Invariants:
//! - Nothing here writes to the journal: streams are read through the
//!   journal's export, which reports damage without quarantining (see
//!   [`load`]).
//! - Errors are [`ViewError`]; each caller words them for its audience (the
//!   CLI adds what to run next, the endpoint picks an HTTP status).

use std::path::PathBuf;

use thiserror::Error;

pub mod load;
#[cfg(test)]
pub(crate) mod sample;

/// Why reading the journal failed; the CLI and the endpoint each word it for their audience.
#[derive(Debug, Error)]
pub enum ViewError {
    /// The journal refused (damaged, I/O, …).
    #[error("{0}")]
    Journal(#[from] rayop_journal::Error),
    /// The named cluster or UID has no stream.
    #[error("no stream for {target} in {}", dir.display())]
    UnknownTarget {
        /// The target exactly as given: `namespace/name` or a UID.
        target: String,
        /// The journal directory that was searched.
        dir: PathBuf,
    },
    /// An export line could not be read back (a journal crate bug or a newer format).
    #[error("reading stream {stream}: {reason}")]
    Export {
        /// The stream id (the cluster's UID) whose export line failed.
        stream: String,
        /// The parse error, prefixed with the export line number.
        reason: String,
    },
}
