//! `rayop journal show`: the timeline of one RayCluster or RayJob.
//!
//! Role: what the operator saw, decided and did, one line per record:
//! time, seq, then the event with its key facts, the transition `from → to`,
//! the commands with their arguments, or the results. Snapshots appear as
//! marker lines after the entry they follow. A namespace/name shows every
//! stream ever filed under it (one per UID), newest first, each under a
//! header. With `--from-url` the streams come from a running operator's
//! `/debug/journal/<namespace>/<name>` endpoint instead (the same export
//! format, read by [`super::fetch`]), so no copy of the journal is needed;
//! `--token-file` sends a bearer token, which the endpoint wants unless the
//! operator serves it on a loopback address.
//!
//! Invariants:
//! - `--since` and `--until` are inclusive bounds on the entry time.
//! - An entry that does not decode, or a damaged record, is shown as such in
//!   its place; the rest of the timeline is still printed.
//! - `--json` prints the stored payloads verbatim (one JSON array of
//!   streams), so nothing is lost to summarising.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use clap::Args;
use rayop_journal::Timestamp;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{JournalCommandError, fetch, kind, open, time};
use crate::journal_view::load::{self, StreamDump};

/// Arguments of `rayop journal show`: an object, a local journal or a URL, and a time window.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    rayop journal show default/raycluster-demo --journal /tmp/journal --since 2024-05-01T10:00:00Z\n  \
    rayop journal show RayJob:default/rayjob-demo --journal /tmp/journal\n  \
    rayop journal show default/raycluster-demo --from-url http://localhost:8081   (a running operator's --debug-addr)\n  \
    rayop journal show default/raycluster-demo --from-url http://10.0.0.7:8081 --token-file token.txt\n\n\
    Output (one line per record: time, seq, what):\n  \
    == default/raycluster-demo  uid 5b0c…  entries 1..7 ==\n  \
    2024-05-01T10:00:01.000Z       1  Observed gen=1 head=absent groups small 0/2 (not applied)\n  \
    2024-05-01T10:00:01.000Z       2  Pending → HeadStarting\n  \
    2024-05-01T10:00:01.000Z       3  commands: EnsureHead(1), EnsureGroup(small, 2), Announce(Normal HeadStarting), PublishStatus(HeadStarting)\n  \
    2024-05-01T10:00:01.000Z       4  results: EnsureHead ok, EnsureGroup failed: forbidden, Announce ok, PublishStatus ok\n  \
    2024-05-01T10:00:02.000Z       5  CommandFailed EnsureGroup FailedApplyWorkers: forbidden")]
pub struct ShowArgs {
    /// The object's index key, as `list` shows it: namespace/name for a RayCluster,
    /// RayJob:namespace/name for a RayJob (every stream ever filed under it,
    /// newest first); or a UID.
    #[arg(value_name = "[RayJob:]NAMESPACE/NAME|UID")]
    pub target: String,
    /// The journal directory (as given to `rayop run --journal`); use a copy of a live one.
    #[arg(long, value_name = "DIR", required_unless_present = "from_url")]
    pub journal: Option<PathBuf>,
    /// Read a running operator's journal instead: the address of its debug listener
    /// (`rayop run --debug-addr`; http://host:port, e.g. through `kubectl port-forward`),
    /// served at `/debug/journal/<namespace>/<name>`.
    #[arg(long, value_name = "URL", conflicts_with = "journal")]
    pub from_url: Option<String>,
    /// With --from-url: send the token in this file as `Authorization: Bearer <token>`
    /// (e.g. from `kubectl create token`); needed unless the operator listens on loopback.
    #[arg(long, value_name = "FILE", requires = "from_url")]
    pub token_file: Option<PathBuf>,
    /// Only records at or after this RFC 3339 time (e.g. 2024-05-01T10:00:00Z).
    #[arg(long, value_name = "RFC3339", value_parser = time::parse_rfc3339)]
    pub since: Option<Timestamp>,
    /// Only records at or before this RFC 3339 time.
    #[arg(long, value_name = "RFC3339", value_parser = time::parse_rfc3339)]
    pub until: Option<Timestamp>,
    /// Print JSON (stored records verbatim) instead of a timeline.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonStream<'a> {
    name: &'a str,
    uid: &'a str,
    last_seq: u64,
    deleted_at: Option<String>,
    quarantined: bool,
    entries: Vec<JsonEntry<'a>>,
    snapshots: Vec<JsonSnapshot>,
    damaged: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonEntry<'a> {
    seq: u64,
    time: String,
    ts_millis: i64,
    version: u32,
    record: &'a RawValue,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSnapshot {
    at_seq: u64,
    time: String,
    phase: Option<String>,
}

fn within(ts: Timestamp, args: &ShowArgs) -> bool {
    args.since.is_none_or(|s| ts >= s) && args.until.is_none_or(|u| ts <= u)
}

fn snapshot_phase(dump: &StreamDump, snapshot: &load::RawSnapshot) -> Option<String> {
    kind::of(&dump.key).1.snapshot_phase(snapshot).ok()
}

/// Writes the timeline of one stream.
///
/// # Errors
/// Writing failed.
pub fn write_timeline(
    out: &mut dyn Write,
    dump: &StreamDump,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> std::io::Result<()> {
    let keep = |ts: Timestamp| since.is_none_or(|s| ts >= s) && until.is_none_or(|u| ts <= u);
    let mut header = format!("== {}  uid {}", dump.key, dump.id);
    let first = dump.first_seq();
    if dump.entries.is_empty() {
        header.push_str("  no entries");
    } else if first > 1 {
        header.push_str(&format!(
            "  entries {first}..{} (1..{} pruned)",
            dump.last_seq,
            first - 1
        ));
    } else {
        header.push_str(&format!("  entries 1..{}", dump.last_seq));
    }
    if let Some(at) = dump.deleted_at {
        header.push_str(&format!("  deleted {}", time::rfc3339(at)));
    }
    if let Some(q) = &dump.quarantine {
        header.push_str(&format!(
            "  QUARANTINED ({} {}: {})",
            q.record, q.seq, q.reason
        ));
    }
    writeln!(out, "{header} ==")?;
    let reader = kind::of(&dump.key).1;
    let mut snapshots = dump.snapshots.iter().peekable();
    let mut shown = 0;
    let snapshot_line = |out: &mut dyn Write, s: &load::RawSnapshot| {
        let phase = snapshot_phase(dump, s).unwrap_or_else(|| "? (does not decode)".to_owned());
        writeln!(
            out,
            "{}  {:>6}  snapshot of the machine after seq {}: phase {phase}",
            time::rfc3339(s.ts),
            "",
            s.at_seq
        )
    };
    for entry in &dump.entries {
        while let Some(s) = snapshots.next_if(|s| s.at_seq < entry.seq) {
            if keep(s.ts) {
                snapshot_line(out, s)?;
            }
        }
        if !keep(entry.ts) {
            continue;
        }
        let text = match reader.describe_entry(entry) {
            Ok(text) => text,
            Err(reason) => format!("<does not decode as a record: {reason}> {}", entry.payload),
        };
        writeln!(out, "{}  {:>6}  {text}", time::rfc3339(entry.ts), entry.seq)?;
        shown += 1;
    }
    for s in snapshots {
        if keep(s.ts) {
            snapshot_line(out, s)?;
        }
    }
    for d in &dump.damaged {
        writeln!(
            out,
            "DAMAGED {} {}: {} (reading stopped here)",
            d.record, d.seq, d.reason
        )?;
    }
    if shown == 0 && !dump.entries.is_empty() {
        writeln!(out, "(no entries in the time range)")?;
    }
    Ok(())
}

/// The token in `path`, without surrounding whitespace; an empty file is refused.
fn read_token(path: &Path) -> Result<String, JournalCommandError> {
    let input = |source| JournalCommandError::Input {
        path: path.display().to_string(),
        source,
    };
    let token = std::fs::read_to_string(path)
        .map_err(input)?
        .trim()
        .to_owned();
    if token.is_empty() {
        return Err(input(std::io::Error::other("the token file is empty")));
    }
    Ok(token)
}

/// Runs `rayop journal show`.
///
/// # Errors
/// The journal cannot be opened or read, the target is unknown, or writing failed.
pub fn run(args: &ShowArgs, out: &mut dyn Write) -> Result<(), JournalCommandError> {
    let dumps = match (&args.from_url, &args.journal) {
        (Some(url), _) => {
            let token = args.token_file.as_deref().map(read_token).transpose()?;
            fetch::fetch_streams_blocking(url, &args.target, token.as_deref()).map_err(|e| {
                JournalCommandError::Input {
                    path: url.clone(),
                    source: std::io::Error::other(e),
                }
            })?
        }
        (None, dir) => {
            let (journal, report) = open::open_existing(dir.as_deref().unwrap_or(Path::new(".")))?;
            open::warn(&report);
            let ids = load::resolve(&journal, &args.target)?;
            load::load_streams(&journal, &ids)?
        }
    };
    if args.json {
        let streams: Vec<JsonStream<'_>> = dumps
            .iter()
            .map(|d| JsonStream {
                name: &d.key,
                uid: &d.id,
                last_seq: d.last_seq,
                deleted_at: d.deleted_at.map(time::rfc3339),
                quarantined: d.quarantine.is_some(),
                entries: d
                    .entries
                    .iter()
                    .filter(|e| within(e.ts, args))
                    .map(|e| JsonEntry {
                        seq: e.seq,
                        time: time::rfc3339(e.ts),
                        ts_millis: e.ts.as_millis(),
                        version: e.version,
                        record: &e.payload,
                    })
                    .collect(),
                snapshots: d
                    .snapshots
                    .iter()
                    .filter(|s| within(s.ts, args))
                    .map(|s| JsonSnapshot {
                        at_seq: s.at_seq,
                        time: time::rfc3339(s.ts),
                        phase: snapshot_phase(d, s),
                    })
                    .collect(),
                damaged: d
                    .damaged
                    .iter()
                    .map(|x| format!("{} {}: {}", x.record, x.seq, x.reason))
                    .collect(),
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &streams)?;
        writeln!(out)?;
    } else {
        for (i, dump) in dumps.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write_timeline(out, dump, args.since, args.until)?;
        }
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
    fn a_rayjob_timeline_reads_like_a_clusters() {
        let mut out = Vec::new();
        write_timeline(&mut out, &sample::job_dump(), None, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("== RayJob:ns/job  uid uid-rayjob-1  entries 1.."),
            "{text}"
        );
        for expected in [
            "Observed gen=1 K8sJobMode cluster=absent submitter=absent ray=unknown\n",
            "cluster=not-ready submitter=absent ray=unknown head=unreachable",
            "New → Initializing",
            "CreateCluster(attempt 1)",
            "→ Complete",
            "results: ",
            "snapshot of the machine after seq",
            "phase Complete",
        ] {
            assert!(text.contains(expected), "{expected:?} missing:\n{text}");
        }
        assert!(!text.contains("does not decode"), "{text}");
    }
}
