//! Opening a journal for inspection, and for import.
//!
//! Role: the one place the subcommands open a journal, so that every
//! inspection opens it the same careful way.
//!
//! Invariants:
//! - [`open_existing`] never creates a journal: a missing directory, or one
//!   without the sled database, is [`JournalCommandError::NotAJournal`].
//! - Both open with [`DamagePolicy::Report`]: a damaged database is an error
//!   (or, for lost writes, a finding in the [`OpenReport`]), never moved aside.
//! - A journal held by another process fails with the journal's
//!   [`rayop_journal::Error::Locked`], whose message names the holder and says
//!   what to do instead.

use std::path::Path;

use rayop_journal::{DB_DIR, DamagePolicy, Journal, OpenReport, Options};

use super::JournalCommandError;

fn options() -> Options {
    Options {
        damage_policy: DamagePolicy::Report,
        ..Options::default()
    }
}

/// Opens the existing journal in `dir` for reading.
///
/// # Errors
/// [`JournalCommandError::NotAJournal`] when `dir` holds no journal; the
/// journal's error otherwise (locked, damaged, newer format, I/O).
pub fn open_existing(dir: &Path) -> Result<(Journal, OpenReport), JournalCommandError> {
    if !dir.is_dir() {
        return Err(JournalCommandError::NotAJournal {
            dir: dir.to_path_buf(),
            reason: "the directory does not exist",
        });
    }
    if !dir.join(DB_DIR).is_dir() {
        return Err(JournalCommandError::NotAJournal {
            dir: dir.to_path_buf(),
            reason: "the directory has no db/ database (is it the directory given to `rayop run --journal`?)",
        });
    }
    Ok(Journal::open(dir, options())?)
}

/// Opens (creating if needed) the journal in `dir` for `import`.
///
/// # Errors
/// The journal's error (locked, damaged, newer format, I/O).
pub fn open_for_import(dir: &Path) -> Result<(Journal, OpenReport), JournalCommandError> {
    Ok(Journal::open(dir, options())?)
}

/// Findings of an open worth telling the user, one sentence each.
#[must_use]
pub fn findings(report: &OpenReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(lost) = &report.lost_writes {
        out.push(format!(
            "the database recovered to commit {} but commit {} was acknowledged: \
             acknowledged entries were lost",
            lost.recovered_epoch, lost.acknowledged_epoch
        ));
    }
    for damaged in &report.damaged_metadata {
        out.push(format!("stream metadata does not decode: {damaged}"));
    }
    out
}

/// Prints the warnings of an open (not problems in themselves) to stderr.
pub fn warn(report: &OpenReport) {
    for finding in findings(report) {
        eprintln!("rayop: warning: {finding}");
    }
    for warning in &report.warnings {
        eprintln!("rayop: warning: {warning}");
    }
}
