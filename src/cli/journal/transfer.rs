//! `rayop journal export` and `import`: a journal as JSON lines.
//!
//! Role: let a journal travel in a bug report. `export` writes the journal
//! crate's JSON-lines format (a `journal` line, then per stream a `stream`
//! line, its snapshots and its entries, payloads verbatim; see
//! [`rayop_journal::Journal::export`]) to stdout; `import` adds the streams
//! of such a file to a journal, creating the journal if needed.
//!
//! Invariants:
//! - Export only reads; stdout carries nothing but the JSON lines (the
//!   summary goes to stderr), so `> file.jsonl` is the whole export.
//! - Import is the one subcommand that writes. It never merges: a stream
//!   that already exists is an error naming the line (the journal crate's
//!   rule). Exporting an imported export reproduces it byte for byte.

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    path::PathBuf,
};

use clap::Args;

use super::{JournalCommandError, JournalDir, open};
use crate::journal_view::load;

/// Arguments of `rayop journal export`: the journal and an optional cluster.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    rayop journal export --journal /tmp/journal --stream default/raycluster-demo > demo.jsonl\n  \
    rayop journal export --journal /tmp/journal | gzip > journal.jsonl.gz")]
pub struct ExportArgs {
    /// The journal to export; opened without quarantining or moving anything aside.
    #[command(flatten)]
    pub dir: JournalDir,
    /// Only this cluster: namespace/name (all its streams) or a UID; every stream when omitted.
    #[arg(long, value_name = "NAMESPACE/NAME|UID")]
    pub stream: Option<String>,
}

/// Arguments of `rayop journal import`: the export file and the target journal.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    rayop journal import demo.jsonl --journal /tmp/from-bug-report\n  \
    gunzip -c journal.jsonl.gz | rayop journal import - --journal /tmp/from-bug-report\n  \
    rayop journal replay default/raycluster-demo --journal /tmp/from-bug-report")]
pub struct ImportArgs {
    /// The JSON-lines file written by `rayop journal export`, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// The journal to import into (created if it does not exist).
    #[command(flatten)]
    pub dir: JournalDir,
}

/// Runs `rayop journal export`.
///
/// # Errors
/// The journal cannot be opened or read, the stream is unknown, or writing failed.
pub fn export(args: &ExportArgs, out: &mut dyn Write) -> Result<(), JournalCommandError> {
    let (journal, report) = open::open_existing(&args.dir.journal)?;
    open::warn(&report);
    let summary = match &args.stream {
        None => journal.export(&mut *out)?,
        Some(target) => load::export_target(&journal, target, &mut *out)?,
    };
    out.flush()?;
    eprintln!(
        "rayop: exported {} streams, {} entries, {} snapshots{}",
        summary.streams,
        summary.entries,
        summary.snapshots,
        if summary.damaged > 0 {
            format!(
                " ({} damaged records written as `damaged` lines)",
                summary.damaged
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Runs `rayop journal import`.
///
/// # Errors
/// The file cannot be read, a line is not acceptable, or the journal refused.
pub fn import(args: &ImportArgs, out: &mut dyn Write) -> Result<(), JournalCommandError> {
    let path = args.file.display().to_string();
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = File::open(&args.file).map_err(|source| JournalCommandError::Input {
            path: path.clone(),
            source,
        })?;
        Box::new(BufReader::new(file))
    };
    let (journal, report) = open::open_for_import(&args.dir.journal)?;
    open::warn(&report);
    let summary = journal.import(reader)?;
    writeln!(
        out,
        "imported {} streams, {} entries, {} snapshots into {}{}",
        summary.streams,
        summary.entries,
        summary.snapshots,
        args.dir.journal.display(),
        if summary.damaged > 0 {
            format!(" ({} damaged records skipped)", summary.damaged)
        } else {
            String::new()
        }
    )?;
    out.flush()?;
    Ok(())
}
