//! `rayop journal list`: every stream of the journal, one line each.
//!
//! Role: the table of contents: which objects the journal knows, of which
//! kind (RayCluster, RayJob), by index key and UID (a name reused after
//! delete and recreate has one stream per UID), how much history each
//! keeps, from when to when, the phase its machine is in now (a RayJob's
//! is its `jobDeploymentStatus`), and whether it was deleted or quarantined.
//!
//! Invariants:
//! - The phase is what the operator would restore: the latest decodable
//!   snapshot plus a replay of the entries after it
//!   ([`crate::record::replay`]), with the machine of the stream's kind
//!   ([`super::kind`]); a stream that cannot be restored shows `?`.
//! - Rows are sorted by index key, then oldest stream first.

use std::io::Write;

use clap::Args;
use rayop_machines::Machine;
use serde::Serialize;

use super::{JournalCommandError, JournalDir, kind, open, time};
use crate::{
    journal_view::load::{self, StreamDump},
    record::{self, Record},
};

/// Arguments of `rayop journal list`: the journal and table or JSON output.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    rayop journal list --journal /tmp/journal\n  \
    rayop journal list --journal /tmp/journal --json | jq '.[] | select(.deleted)'")]
pub struct ListArgs {
    /// The journal to list; opened without quarantining or moving anything aside.
    #[command(flatten)]
    pub dir: JournalDir,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One stream (one object's UID) as a table row or a JSON object (camelCase keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRow {
    /// The object's kind: `RayCluster` or `RayJob`.
    pub kind: &'static str,
    /// The index key (`namespace/name`, `RayJob:namespace/name`), as `show`
    /// and `replay` take it; several streams share it when a name was reused.
    pub name: String,
    /// The object's UID (the stream id).
    pub uid: String,
    /// Entries still stored; fewer than `last_seq` once retention pruned the oldest.
    pub entries: u64,
    /// Seq of the oldest stored entry: 1 until retention prunes.
    pub first_seq: u64,
    /// Seq of the newest entry ever appended; pruning never lowers it.
    pub last_seq: u64,
    /// Time of the first retained entry, RFC 3339.
    pub first: Option<String>,
    /// Time of the last entry, RFC 3339.
    pub last: Option<String>,
    /// The restored machine's phase, or `None` if it cannot be restored.
    pub phase: Option<String>,
    /// Why the phase could not be restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_error: Option<String>,
    /// True once the operator recorded the object's deletion (`deleted_at` is then set).
    pub deleted: bool,
    /// When the deletion was recorded, RFC 3339 UTC; `None` while the object lives.
    pub deleted_at: Option<String>,
    /// True when a damaged record was found; the operator's typed reads then refuse the stream.
    pub quarantined: bool,
    /// The damaged record and reason (`entry 7: …`); omitted from JSON when not quarantined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
}

/// The machine `M` the operator would restore for `dump`: its latest
/// decodable snapshot plus a replay of the entries after it.
///
/// # Errors
/// Why it cannot be restored.
pub fn restore<M: Machine>(dump: &StreamDump) -> Result<M, String> {
    if let Some(d) = dump.damaged.first() {
        return Err(format!("{} {} is damaged", d.record, d.seq));
    }
    let snapshot = dump.snapshots.iter().rev().find_map(|s| {
        load::decode_snapshot::<M>(s)
            .ok()
            .filter(|_| s.at_seq + 1 >= dump.first_seq())
            .map(|m| (s.at_seq, m.0))
    });
    let (start_seq, machine) = match snapshot {
        Some((at, machine)) => (at, machine),
        None if dump.first_seq() <= 1 => (0, M::default()),
        None => return Err("pruned without a usable snapshot".to_owned()),
    };
    let records: Vec<Record<M>> = load::decode_records::<M>(dump)
        .map_err(|(seq, reason)| format!("entry {seq} does not decode: {reason}"))?
        .into_iter()
        .filter(|e| e.seq > start_seq)
        .map(|e| e.record)
        .collect();
    Ok(record::replay(machine, &records).machine)
}

/// The rows of every stream in the journal.
///
/// # Errors
/// The journal's error.
pub fn rows(journal: &rayop_journal::Journal) -> Result<Vec<StreamRow>, JournalCommandError> {
    let infos = journal.streams()?;
    let ids: Vec<String> = infos.iter().map(|i| i.id.clone()).collect();
    let dumps = load::load_streams(journal, &ids)?;
    let mut rows: Vec<StreamRow> = infos
        .iter()
        .zip(&dumps)
        .map(|(info, dump)| {
            let (kind, reader) = kind::of(&info.index_key);
            let restored = reader.restored_phase(dump);
            StreamRow {
                kind: kind.as_str(),
                name: info.index_key.clone(),
                uid: info.id.clone(),
                entries: info.count,
                first_seq: info.first_seq,
                last_seq: info.last_seq,
                first: info.first_ts.map(time::rfc3339),
                last: info.last_ts.map(time::rfc3339),
                phase: restored.as_ref().ok().cloned(),
                phase_error: restored.err(),
                deleted: info.deleted_at.is_some(),
                deleted_at: info.deleted_at.map(time::rfc3339),
                quarantined: info.quarantined.is_some(),
                quarantine: info
                    .quarantined
                    .as_ref()
                    .map(|q| format!("{} {}: {}", q.record, q.seq, q.reason)),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.name, &a.first, &a.uid).cmp(&(&b.name, &b.first, &b.uid)));
    Ok(rows)
}

/// Writes `rows` as an aligned table.
///
/// # Errors
/// Writing failed.
pub fn write_table(out: &mut dyn Write, rows: &[StreamRow]) -> std::io::Result<()> {
    let header = [
        "KIND",
        "NAME",
        "UID",
        "ENTRIES",
        "FIRST",
        "LAST",
        "PHASE",
        "DELETED",
        "QUARANTINED",
    ];
    let dash = || "-".to_owned();
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.kind.to_owned(),
                r.name.clone(),
                r.uid.clone(),
                r.entries.to_string(),
                r.first.clone().unwrap_or_else(dash),
                r.last.clone().unwrap_or_else(dash),
                r.phase.clone().unwrap_or_else(|| "?".to_owned()),
                r.deleted_at
                    .clone()
                    .map_or_else(|| "no".to_owned(), |t| format!("yes ({t})")),
                if r.quarantined { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        text
    };
    writeln!(out, "{}", line(&header.map(str::to_owned)))?;
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    for r in rows {
        if let Some(q) = &r.quarantine {
            writeln!(out, "quarantined {} ({}): {q}", r.uid, r.name)?;
        }
        if let Some(e) = &r.phase_error {
            writeln!(out, "phase of {} ({}) unknown: {e}", r.uid, r.name)?;
        }
    }
    Ok(())
}

/// Runs `rayop journal list`.
///
/// # Errors
/// The journal cannot be opened or read, or writing failed.
pub fn run(args: &ListArgs, out: &mut dyn Write) -> Result<(), JournalCommandError> {
    let (journal, report) = open::open_existing(&args.dir.journal)?;
    open::warn(&report);
    let rows = rows(&journal)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
    } else if rows.is_empty() {
        writeln!(out, "no streams in {}", args.dir.journal.display())?;
    } else {
        write_table(out, &rows)?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::journal_view::sample;

    #[test]
    fn every_kind_is_listed_with_its_kind_and_phase() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = sample::journal_with_both_kinds(tmp.path());
        let rows = rows(&journal).unwrap();
        let job = rows.iter().find(|r| r.uid == sample::JOB_UID).unwrap();
        assert_eq!(
            (job.kind, job.name.as_str(), job.phase.as_deref()),
            ("RayJob", "RayJob:ns/job", Some("Complete"))
        );
        assert_eq!(job.phase_error, None);
        let cluster = rows.iter().find(|r| r.uid == sample::CLUSTER_UID).unwrap();
        assert_eq!(
            (cluster.kind, cluster.name.as_str()),
            ("RayCluster", "ns/cluster")
        );
        assert!(cluster.phase.is_some(), "{cluster:?}");

        let mut table = Vec::new();
        write_table(&mut table, &rows).unwrap();
        let table = String::from_utf8(table).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("KIND "), "{table}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("RayJob ") && l.contains(" Complete ")),
            "{table}"
        );
        let json = serde_json::to_value(&rows).unwrap();
        assert!(
            json.as_array()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == "RayJob")
        );
    }
}
