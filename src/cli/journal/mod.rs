//! `rayop journal …`: inspect, check, replay and move the operator's journal.
//!
//! Role: the person on call's view of what the operator saw, decided and did
//! for each RayCluster and RayJob, read from the sled journal `rayop run`
//! writes (see [`crate::journaling`] and [`crate::record`]). A stream's kind
//! is told by its index key (`namespace/name`, `RayJob:namespace/name`) and
//! picks the machine that reads it ([`kind`]):
//! - `list`: every stream with its kind, key, counts, times and current phase;
//! - `show`: a readable timeline of one object;
//! - `replay`: the recorded events fed through the *current* machine, with
//!   the first divergence from the recorded decisions;
//! - `verify`: integrity of the whole journal;
//! - `export` / `import`: JSON lines, so a journal can travel in a bug report.
//!
//! Invariants:
//! - Every subcommand but `import` leaves the journal as it found it. The
//!   journal is opened with [`rayop_journal::DamagePolicy::Report`] (a
//!   damaged database is reported, never moved aside), a directory that is
//!   not a journal is refused instead of created, and streams are read
//!   through the journal's export (see [`crate::journal_view`]), which reports damage
//!   without quarantining. (sled 0.34 has no read-only mode: opening may
//!   still let sled write its own recovery metadata; the journal's data is
//!   not changed.)
//! - A journal held by a running operator is refused with the journal's own
//!   [`rayop_journal::Error::Locked`] message, which says what to do instead
//!   (copy the directory, or use the operator's debug endpoint).
//! - Exit codes ([`JournalCommandError::exit_code`]): 0 success, 1 a replay
//!   that diverged or a verification that found problems, 2 a usage or I/O
//!   error (clap's own usage errors also exit 2).

use std::{io::Write, path::PathBuf};

use clap::{Args, Subcommand};
use thiserror::Error;

use crate::journal_view::ViewError;

pub mod describe;
pub mod diff;
pub mod fetch;
pub mod kind;
pub mod list;
pub mod open;
pub mod replay;
pub mod show;
pub mod time;
pub mod transfer;
pub mod verify;

/// Arguments of `rayop journal`: one subcommand, each taking `--journal DIR`.
#[derive(Debug, Args)]
#[command(
    about = "Inspect, verify, replay, export and import the operator's journal",
    long_about = "Inspect, verify, replay, export and import the operator's journal.\n\n\
        The journal records, per RayCluster (one stream per UID, found by namespace/name) \
        and per RayJob (found by RayJob:namespace/name), every event the operator observed, \
        every phase transition, the commands it issued \
        and their results. Every subcommand takes --journal <dir>. Only `import` writes to \
        the journal. A journal in use by a running operator cannot be opened: copy the \
        directory and point --journal at the copy.",
    after_help = "Examples:\n  \
        cp -r /var/lib/rayop/journal /tmp/journal\n  \
        rayop journal list --journal /tmp/journal\n  \
        rayop journal show default/raycluster-demo --journal /tmp/journal --since 2024-05-01T10:00:00Z\n  \
        rayop journal replay default/raycluster-demo --journal /tmp/journal\n  \
        rayop journal replay RayJob:default/rayjob-demo --journal /tmp/journal\n  \
        rayop journal verify --journal /tmp/journal\n  \
        rayop journal export --journal /tmp/journal --stream default/raycluster-demo > demo.jsonl\n  \
        rayop journal import demo.jsonl --journal /tmp/imported"
)]
pub struct JournalArgs {
    /// What to do with the journal.
    #[command(subcommand)]
    pub command: JournalCommand,
}

/// The journal's directory, shared by every subcommand.
#[derive(Debug, Args)]
pub struct JournalDir {
    /// The journal directory (as given to `rayop run --journal`); use a copy of a live one.
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
}

/// The `rayop journal` subcommands; only `Import` writes to a journal.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// List every stream: kind, name, UID, entries, first and last time, phase, deleted, quarantined.
    List(list::ListArgs),
    /// Show the timeline of one RayCluster or RayJob: events, transitions, commands, results.
    Show(show::ShowArgs),
    /// Replay an object's recorded events through the current machine and report the first divergence.
    Replay(replay::ReplayArgs),
    /// Check the journal's integrity: sequences, envelopes, snapshots, and that every record decodes.
    Verify(verify::VerifyArgs),
    /// Write the journal (or one object's streams) as JSON lines to stdout.
    Export(transfer::ExportArgs),
    /// Add the streams of a JSON-lines export to a journal (created if needed).
    Import(transfer::ImportArgs),
}

/// Why a `rayop journal` subcommand failed.
#[derive(Debug, Error)]
pub enum JournalCommandError {
    /// `--journal` does not name a journal.
    #[error("no journal at {dir}: {reason}")]
    NotAJournal {
        /// The `--journal` path exactly as given.
        dir: PathBuf,
        /// The directory is missing, or it has no `db/` database.
        reason: &'static str,
    },
    /// The journal refused (held by another process, damaged, newer format, …).
    #[error("{0}")]
    Journal(#[from] rayop_journal::Error),
    /// The named cluster or UID has no stream.
    #[error(
        "no stream for {target} in {dir}; `rayop journal list --journal {dir}` shows every stream",
        dir = dir.display()
    )]
    UnknownTarget {
        /// The target exactly as typed: `namespace/name` or a UID.
        target: String,
        /// The `--journal` directory searched, shown in the `journal list` hint.
        dir: PathBuf,
    },
    /// A stream cannot be replayed (damaged, or its beginning pruned without a snapshot).
    #[error("stream {stream} ({key}) cannot be replayed: {reason}")]
    CannotReplay {
        /// The stream id: the object's UID.
        stream: String,
        /// The stream's index key (`namespace/name`, `RayJob:namespace/name`).
        key: String,
        /// The damaged or undecodable record, or the pruned range, in words.
        reason: String,
    },
    /// An export line could not be read back (a journal crate bug or a newer format).
    #[error("reading stream {stream}: {reason}")]
    Export {
        /// The stream id (the RayCluster's UID) whose export line failed.
        stream: String,
        /// The decode error of the line, in words.
        reason: String,
    },
    /// The replay of at least one stream diverged from the journal (details on stdout).
    #[error("replay diverged from the journal in {streams} stream(s); see the diff above")]
    Diverged {
        /// How many streams diverged; each one's diff is already on stdout.
        streams: usize,
    },
    /// `verify` found problems (listed on stdout).
    #[error("the journal has {problems} problem(s); see the list above")]
    VerifyFailed {
        /// How many problems were printed to stdout; always at least 1.
        problems: usize,
    },
    /// Reading the `import` input (a file or stdin) failed; exit code 2.
    #[error("reading {path}: {source}")]
    Input {
        /// The file (or `-` for stdin).
        path: String,
        /// The I/O error from opening or reading the input.
        #[source]
        source: std::io::Error,
    },
    /// Writing to stdout failed (for example a closed pipe); exit code 2.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    /// Serializing `--json` output failed; exit code 2.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<ViewError> for JournalCommandError {
    /// The CLI's wording of a read error (an unknown target says how to list
    /// the streams).
    fn from(error: ViewError) -> Self {
        match error {
            ViewError::Journal(error) => JournalCommandError::Journal(error),
            ViewError::UnknownTarget { target, dir } => {
                JournalCommandError::UnknownTarget { target, dir }
            }
            ViewError::Export { stream, reason } => JournalCommandError::Export { stream, reason },
        }
    }
}

impl JournalCommandError {
    /// The process exit code for this error: 1 for a divergence or a failed
    /// verification, 2 for usage and I/O errors.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            JournalCommandError::Diverged { .. } | JournalCommandError::VerifyFailed { .. } => 1,
            _ => 2,
        }
    }
}

/// Runs `rayop journal <command>`, writing its output to `out`.
///
/// # Errors
/// [`JournalCommandError`]; see [`JournalCommandError::exit_code`].
pub fn run(args: &JournalArgs, out: &mut dyn Write) -> Result<(), JournalCommandError> {
    match &args.command {
        JournalCommand::List(a) => list::run(a, out),
        JournalCommand::Show(a) => show::run(a, out),
        JournalCommand::Replay(a) => replay::run(a, out),
        JournalCommand::Verify(a) => verify::run(a, out),
        JournalCommand::Export(a) => transfer::export(a, out),
        JournalCommand::Import(a) => transfer::import(a, out),
    }
}
