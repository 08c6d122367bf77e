//! `rayop journal verify`: is the journal whole and readable by this build?
//!
//! Role: one check before trusting (or attaching) a journal. It runs the
//! journal crate's [`rayop_journal::Journal::verify`] (contiguous sequences,
//! valid envelopes and JSON, snapshots within the retained range, index rows,
//! orphans) and adds rayop's own layer: every entry decodes as a
//! [`crate::record::Record`] and every snapshot as a
//! [`crate::journaling::MachineSnapshot`] (upcasting older schema
//! versions). Open findings (acknowledged writes lost, stream metadata that
//! does not decode) count as problems too.
//!
//! Invariants:
//! - Verification only reads: it quarantines nothing (unlike a typed read).
//! - Exit code 0 when no problem is found, 1 with the list of problems.

use std::io::Write;

use clap::Args;
use rayop_journal::{Problem, VerifyReport};

use super::{JournalCommandError, JournalDir, kind, open};
use crate::journal_view::load;

/// Arguments of `rayop journal verify`: the journal only; nothing is selected or filtered.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    rayop journal verify --journal /tmp/journal\n\n\
    Prints `OK` and exits 0 when the journal is sound; otherwise lists each problem \
    (stream, seq, what) and exits 1.")]
pub struct VerifyArgs {
    /// The journal to check; opened without quarantining or moving anything aside.
    #[command(flatten)]
    pub dir: JournalDir,
}

/// What [`verify`] found; `run` exits 1 when `problems` is not empty.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Streams the journal crate checked, quarantined ones included.
    pub streams: usize,
    /// Retained entries over all streams; pruned ones are neither read nor counted.
    pub entries: u64,
    /// Stored snapshots over all streams, each also decoded as a machine.
    pub snapshots: u64,
    /// One sentence per problem naming its stream, open findings first; printed after `PROBLEM`.
    pub problems: Vec<String>,
}

fn describe_problem(p: &Problem) -> String {
    match p {
        Problem::Damaged(d) => format!("{} {} is damaged: {}", d.record, d.seq, d.reason),
        Problem::SnapshotAfterEnd { at_seq, last_seq } => {
            format!("the snapshot after seq {at_seq} lies past the last seq {last_seq}")
        }
        Problem::SnapshotBeforeRetained { at_seq, first_seq } => format!(
            "entries between the snapshot after seq {at_seq} and the first retained seq \
             {first_seq} are missing"
        ),
        Problem::PrunedWithoutSnapshot { first_seq } => {
            format!("entries before seq {first_seq} were pruned and there is no snapshot")
        }
        Problem::Quarantined(q) => {
            format!(
                "quarantined since {} {} was found damaged: {}",
                q.record, q.seq, q.reason
            )
        }
        Problem::MissingIndexRow => "its namespace/name index row is missing".to_owned(),
    }
}

/// Verifies `journal` (see the module docs).
///
/// # Errors
/// The journal cannot be read at all.
pub fn verify(
    journal: &rayop_journal::Journal,
    report: &rayop_journal::OpenReport,
) -> Result<Verification, JournalCommandError> {
    let mut v = Verification {
        problems: open::findings(report),
        ..Verification::default()
    };
    let checked: VerifyReport = journal.verify()?;
    v.streams = checked.streams.len();
    v.entries = checked.entries();
    let ids: Vec<String> = checked.streams.iter().map(|s| s.id.clone()).collect();
    let dumps = load::load_streams(journal, &ids)?;
    for (check, dump) in checked.streams.iter().zip(&dumps) {
        let name = format!("stream {} ({})", dump.id, dump.key);
        let reader = kind::of(&dump.key).1;
        for p in &check.problems {
            v.problems.push(format!("{name}: {}", describe_problem(p)));
        }
        for entry in &dump.entries {
            if let Err(reason) = reader.describe_entry(entry) {
                v.problems.push(format!(
                    "{name}: entry {} does not decode as a record: {reason}",
                    entry.seq
                ));
            }
        }
        for snapshot in &dump.snapshots {
            v.snapshots += 1;
            if let Err(reason) = reader.snapshot_phase(snapshot) {
                v.problems.push(format!(
                    "{name}: the snapshot after seq {} does not decode as a machine: {reason}",
                    snapshot.at_seq
                ));
            }
        }
        // Damage the journal crate already reported is not repeated.
        for d in &dump.damaged {
            let known = check.problems.iter().any(
                |p| matches!(p, Problem::Damaged(x) if x.seq == d.seq && x.record == d.record),
            );
            if !known {
                v.problems.push(format!(
                    "{name}: {} {} is damaged: {}",
                    d.record, d.seq, d.reason
                ));
            }
        }
    }
    for orphan in &checked.orphans {
        v.problems.push(format!("orphan: {orphan}"));
    }
    Ok(v)
}

/// Runs `rayop journal verify`.
///
/// # Errors
/// [`JournalCommandError::VerifyFailed`] (exit 1) when problems were found;
/// other errors (exit 2) when the journal cannot be opened or read.
pub fn run(args: &VerifyArgs, out: &mut dyn Write) -> Result<(), JournalCommandError> {
    let (journal, report) = open::open_existing(&args.dir.journal)?;
    for warning in &report.warnings {
        eprintln!("rayop: warning: {warning}");
    }
    let v = verify(&journal, &report)?;
    writeln!(
        out,
        "journal {}: {} streams, {} entries, {} snapshots checked",
        args.dir.journal.display(),
        v.streams,
        v.entries,
        v.snapshots
    )?;
    if v.problems.is_empty() {
        writeln!(out, "OK")?;
        out.flush()?;
        return Ok(());
    }
    for p in &v.problems {
        writeln!(out, "PROBLEM {p}")?;
    }
    writeln!(out, "{} problem(s)", v.problems.len())?;
    out.flush()?;
    Err(JournalCommandError::VerifyFailed {
        problems: v.problems.len(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::journal_view::sample;

    #[test]
    fn rayjob_and_raycluster_streams_verify_with_their_own_machines() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = sample::journal_with_both_kinds(tmp.path());
        let v = verify(&journal, &rayop_journal::OpenReport::default()).unwrap();
        assert_eq!(v.problems, Vec::<String>::new());
        assert_eq!(v.streams, 2);
        assert!(v.snapshots > 0);

        // A job's record filed under a cluster's key does not decode as the
        // cluster's record: the key, not the payload, picks the machine.
        let job = load::load_streams(&journal, &[sample::JOB_UID.to_owned()]).unwrap();
        let transition = job[0]
            .entries
            .iter()
            .find(|e| e.payload.get().contains("transition"))
            .unwrap();
        let (_, cluster_reader) = kind::of("ns/cluster");
        assert!(cluster_reader.describe_entry(transition).is_err());
        let (_, job_reader) = kind::of(&sample::job_key());
        assert!(job_reader.describe_entry(transition).is_ok());
    }
}
