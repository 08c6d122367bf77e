//! `rayop journal replay`: the recorded events through the current machine.
//!
//! Role: answer "would today's code decide what the operator decided then?"
//! For each stream of the target, the recorded events are fed to a machine
//! with [`crate::record::replay`], which compares each decision with the
//! recorded transition and commands. The replay starts from the stream's
//! first entry with a fresh machine, or, when retention pruned the beginning,
//! from the earliest snapshot that still has every later entry (and says so).
//! Every later snapshot is a checkpoint: the replayed machine must equal the
//! recorded state there, or restoring from that snapshot would behave
//! differently from replaying.
//!
//! Invariants:
//! - Replay performs no command and writes nothing: it only compares.
//! - The first divergence is reported with its record index (0-based among
//!   the replayed records), its seq and time, the event that led to it and a
//!   line diff of the recorded against the replayed JSON; the command then
//!   fails with exit code 1. A stream that cannot be replayed (damaged,
//!   undecodable, pruned without a snapshot) is exit code 2.
//! - A snapshot that falls inside one decision (never written by the
//!   operator, which snapshots after whole appends) cannot be compared; it
//!   is skipped and named in the report.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use clap::Args;
use rayop_journal::Timestamp;

use super::{JournalCommandError, JournalDir, describe::Describe, diff, kind, open, time};
use crate::{
    journal_view::load::{self, StreamDump},
    record::{self, Record},
};

/// Arguments of `rayop journal replay`: which object's streams, and the journal.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    rayop journal replay default/raycluster-demo --journal /tmp/journal\n  \
    rayop journal replay RayJob:default/rayjob-demo --journal /tmp/journal\n\n\
    Prints, per stream, how many events were replayed and either `identical` or the first \
    divergence with a diff of the recorded against the replayed decision.\n\
    Exit status: 0 identical, 1 a divergence, 2 usage or I/O error.")]
pub struct ReplayArgs {
    /// The object's index key, as `list` shows it: namespace/name for a RayCluster,
    /// RayJob:namespace/name for a RayJob (every stream ever filed under it,
    /// newest first); or a UID.
    #[arg(value_name = "[RayJob:]NAMESPACE/NAME|UID")]
    pub target: String,
    /// The journal to replay from; opened without quarantining or moving anything aside.
    #[command(flatten)]
    pub dir: JournalDir,
}

/// Where a replay started; named in each stream's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From seq 1 with a fresh machine.
    Beginning,
    /// From a snapshot, because entries before it were pruned.
    Snapshot {
        /// The machine state covers entries `1..=at_seq`; replay resumes at `at_seq + 1`.
        at_seq: u64,
        /// Seq of the oldest stored entry; entries before it were pruned by retention.
        first_retained: u64,
    },
}

/// The first place where the current machine and the journal disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayDivergence {
    /// A recorded transition or commands record differs from the replayed decision.
    Record {
        /// Index among the replayed records (0-based); equal to the number of
        /// records when the journal ends before the replayed decision does.
        index: usize,
        /// Seq of that record, `None` at the end of the stream.
        seq: Option<u64>,
        /// Time of that record, `None` at the end of the stream.
        ts: Option<Timestamp>,
        /// The recorded record's kind (`Transition`, `Commands`, `Event`, or `end of stream`).
        kind: &'static str,
        /// The event whose decision diverged: its seq and description.
        after_event: Option<(u64, String)>,
        /// The recorded transition or commands as pretty JSON, or words like `no commands`.
        recorded: String,
        /// What the current machine decides instead, in the same form as `recorded`.
        replayed: String,
    },
    /// The replayed machine differs from a recorded snapshot.
    Snapshot {
        /// The machine state there covers entries `1..=at_seq`.
        at_seq: u64,
        /// The machine state as stored in the snapshot, pretty JSON.
        recorded: String,
        /// The machine state replay reached at `at_seq`, pretty JSON.
        replayed: String,
    },
}

impl ReplayDivergence {
    /// A human report: where, after which event, and the diff.
    #[must_use]
    pub fn report(&self) -> String {
        match self {
            ReplayDivergence::Record {
                index,
                seq,
                ts,
                kind,
                after_event,
                recorded,
                replayed,
            } => {
                let place = match (seq, ts) {
                    (Some(seq), Some(ts)) => {
                        format!(
                            "record {index} (seq {seq}, {}, a {kind} record)",
                            time::rfc3339(*ts)
                        )
                    }
                    _ => format!("record {index} (the end of the stream)"),
                };
                let mut out = format!("DIVERGENCE at {place}\n");
                if let Some((seq, event)) = after_event {
                    out.push_str(&format!("  deciding event seq {seq}: {event}\n"));
                }
                out.push_str(&indent(&diff::unified(recorded, replayed)));
                out
            }
            ReplayDivergence::Snapshot {
                at_seq,
                recorded,
                replayed,
            } => format!(
                "DIVERGENCE at the snapshot after seq {at_seq}: the replayed machine state differs \
                 from the recorded one (a machine restored from it would behave differently)\n{}",
                indent(&diff::unified(recorded, replayed))
            ),
        }
    }

    /// The record index for a record divergence.
    #[must_use]
    pub fn index(&self) -> Option<usize> {
        match self {
            ReplayDivergence::Record { index, .. } => Some(*index),
            ReplayDivergence::Snapshot { .. } => None,
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The replay of one stream; a divergence is reported, not returned as an error.
#[derive(Clone, Debug)]
pub struct StreamReplay {
    /// The stream id: the object's UID.
    pub id: String,
    /// The stream's index key (`namespace/name`, `RayJob:namespace/name`).
    pub key: String,
    /// Seq 1, or a snapshot when retention pruned the beginning.
    pub start: Start,
    /// Stored records after the start, all of them even when replay stopped at a divergence.
    pub records: usize,
    /// Events fed to the machine (up to the divergence, if any).
    pub events: usize,
    /// Snapshots compared with the replayed machine.
    pub snapshots_checked: usize,
    /// Things the reader should know (snapshots skipped, …).
    pub notes: Vec<String>,
    /// The first divergence; `None` when every recorded decision matched.
    pub divergence: Option<ReplayDivergence>,
    /// The machine's phase at the end (or at the divergence), as its kind names it.
    pub phase: String,
    /// Wall-clock time of the replay itself, decoding excluded; printed in ms.
    pub elapsed: Duration,
}

fn cannot(dump: &StreamDump, reason: String) -> JournalCommandError {
    JournalCommandError::CannotReplay {
        stream: dump.id.clone(),
        key: dump.key.clone(),
        reason,
    }
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<unprintable: {e}>"))
}

/// Replays one stream (see the module docs) through the current machine of
/// its kind, told by its index key ([`kind::of`]).
///
/// # Errors
/// [`JournalCommandError::CannotReplay`] when the stream is damaged, does not
/// decode, or lost its beginning without a snapshot to start from.
pub fn replay_dump(dump: &StreamDump) -> Result<StreamReplay, JournalCommandError> {
    kind::of(&dump.key).1.replay(dump)
}

/// Replays one stream through machine `M` (see the module docs).
///
/// # Errors
/// As [`replay_dump`].
pub fn replay_as<M: Describe>(dump: &StreamDump) -> Result<StreamReplay, JournalCommandError> {
    if let Some(damage) = dump.damaged.first() {
        return Err(cannot(
            dump,
            format!(
                "{} {} is damaged ({}); run `rayop journal verify`",
                damage.record, damage.seq, damage.reason
            ),
        ));
    }
    let decoded = load::decode_records::<M>(dump).map_err(|(seq, reason)| {
        cannot(
            dump,
            format!("entry {seq} does not decode as a record: {reason}"),
        )
    })?;
    let first = dump.first_seq();
    let mut notes = Vec::new();
    // The starting machine, and the seq after which replay begins.
    let (machine, start, start_seq) = if first <= 1 {
        (M::default(), Start::Beginning, 0)
    } else {
        let usable = dump
            .snapshots
            .iter()
            .find(|s| s.at_seq + 1 >= first && s.at_seq <= dump.last_seq)
            .ok_or_else(|| {
                cannot(
                    dump,
                    format!(
                        "entries 1..{} were pruned and no snapshot covers them",
                        first - 1
                    ),
                )
            })?;
        let state = load::decode_snapshot::<M>(usable).map_err(|reason| {
            cannot(
                dump,
                format!(
                    "the snapshot after seq {} does not decode: {reason}",
                    usable.at_seq
                ),
            )
        })?;
        (
            state.0,
            Start::Snapshot {
                at_seq: usable.at_seq,
                first_retained: first,
            },
            usable.at_seq,
        )
    };
    let tail: Vec<&load::DecodedEntry<M>> = decoded.iter().filter(|e| e.seq > start_seq).collect();
    let records: Vec<Record<M>> = tail.iter().map(|e| e.record.clone()).collect();
    // Checkpoints: (index of the first record after the snapshot, snapshot).
    let mut cuts: Vec<(usize, Option<&load::RawSnapshot>)> = Vec::new();
    for snapshot in dump.snapshots.iter().filter(|s| s.at_seq > start_seq) {
        let cut = tail.partition_point(|e| e.seq <= snapshot.at_seq);
        if snapshot.at_seq > tail.last().map_or(start_seq, |e| e.seq) {
            notes.push(format!(
                "the snapshot after seq {} lies past the last entry; not compared",
                snapshot.at_seq
            ));
            continue;
        }
        cuts.push((cut, Some(snapshot)));
    }
    cuts.push((records.len(), None));

    let started = Instant::now();
    let mut machine = machine;
    let mut seg_start = 0;
    let mut events = 0;
    let mut checked = 0;
    let mut divergence = None;
    for (cut, snapshot) in cuts {
        let replay = record::replay(machine.clone(), &records[seg_start..cut]);
        match (replay.divergence, snapshot) {
            (Some(d), Some(s)) if d.index == cut - seg_start => {
                // The segment ends inside a decision: the snapshot was taken
                // between an event and its decision records.
                notes.push(format!(
                    "the snapshot after seq {} lies inside a decision; not compared",
                    s.at_seq
                ));
            }
            (Some(d), _) => {
                events += replay.events;
                machine = replay.machine;
                let index = seg_start + d.index;
                let entry = tail.get(index);
                let after_event = tail[..index.min(tail.len())]
                    .iter()
                    .rev()
                    .find_map(|e| match &e.record {
                        Record::Event(event) => Some((e.seq, M::event(event))),
                        _ => None,
                    });
                divergence = Some(ReplayDivergence::Record {
                    index,
                    seq: entry.map(|e| e.seq),
                    ts: entry.map(|e| e.ts),
                    kind: entry.map_or("end of stream", |e| record_kind(&e.record)),
                    after_event,
                    recorded: d.recorded,
                    replayed: d.replayed,
                });
                break;
            }
            (None, snapshot) => {
                events += replay.events;
                machine = replay.machine;
                seg_start = cut;
                let Some(snapshot) = snapshot else { continue };
                match load::decode_snapshot::<M>(snapshot) {
                    Err(reason) => notes.push(format!(
                        "the snapshot after seq {} does not decode ({reason}); not compared",
                        snapshot.at_seq
                    )),
                    Ok(state) if state.0 == machine => checked += 1,
                    Ok(state) => {
                        divergence = Some(ReplayDivergence::Snapshot {
                            at_seq: snapshot.at_seq,
                            recorded: pretty(&state.0),
                            replayed: pretty(&machine),
                        });
                        break;
                    }
                }
            }
        }
    }
    Ok(StreamReplay {
        id: dump.id.clone(),
        key: dump.key.clone(),
        start,
        records: records.len(),
        events,
        snapshots_checked: checked,
        notes,
        divergence,
        phase: machine.phase().to_string(),
        elapsed: started.elapsed(),
    })
}

fn record_kind<M: Describe>(record: &Record<M>) -> &'static str {
    match record {
        Record::Event(_) => "Event",
        Record::Transition { .. } => "Transition",
        Record::Commands(_) => "Commands",
        Record::Results(_) => "Results",
        Record::Resync(_) => "Resync",
    }
}

/// Writes the human report of one stream's replay.
///
/// # Errors
/// Writing failed.
pub fn write_report(out: &mut dyn Write, r: &StreamReplay) -> std::io::Result<()> {
    writeln!(out, "{}  uid {}", r.key, r.id)?;
    match r.start {
        Start::Beginning => writeln!(out, "  replayed from the beginning (seq 1)")?,
        Start::Snapshot {
            at_seq,
            first_retained,
        } => writeln!(
            out,
            "  replayed from the snapshot after seq {at_seq}: entries 1..{} were pruned by retention",
            first_retained - 1
        )?,
    }
    writeln!(
        out,
        "  {} events replayed ({} records, {} snapshots compared) in {:.3} ms",
        r.events,
        r.records,
        r.snapshots_checked,
        r.elapsed.as_secs_f64() * 1000.0
    )?;
    for note in &r.notes {
        writeln!(out, "  note: {note}")?;
    }
    match &r.divergence {
        None => writeln!(
            out,
            "  identical: the current machine makes every recorded decision; phase {}",
            r.phase
        ),
        Some(d) => write!(out, "{}", indent(&d.report())),
    }
}

/// Runs `rayop journal replay`.
///
/// # Errors
/// [`JournalCommandError::Diverged`] (exit 1) when any stream diverged;
/// other errors (exit 2) when the journal or a stream cannot be read.
pub fn run(args: &ReplayArgs, out: &mut dyn Write) -> Result<(), JournalCommandError> {
    let (journal, report) = open::open_existing(&args.dir.journal)?;
    open::warn(&report);
    let ids = load::resolve(&journal, &args.target)?;
    let dumps = load::load_streams(&journal, &ids)?;
    let mut diverged = 0;
    for (i, dump) in dumps.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let replay = replay_dump(dump)?;
        write_report(out, &replay)?;
        if replay.divergence.is_some() {
            diverged += 1;
        }
    }
    out.flush()?;
    if diverged > 0 {
        return Err(JournalCommandError::Diverged { streams: diverged });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::journal_view::sample;
    use serde_json::value::RawValue;

    #[test]
    fn a_rayjob_stream_replays_through_the_job_machine() {
        let dump = sample::job_dump();
        let replay = replay_dump(&dump).unwrap();
        assert_eq!(replay.divergence, None, "{:?}", replay.notes);
        assert_eq!(replay.start, Start::Beginning);
        assert_eq!(replay.events, sample::job_inputs().len());
        assert_eq!(replay.snapshots_checked, dump.snapshots.len());
        assert_eq!(replay.phase, "Complete");
        let mut out = Vec::new();
        write_report(&mut out, &replay).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("RayJob:ns/job  uid uid-rayjob-1\n"),
            "{text}"
        );
        assert!(
            text.contains("identical") && text.contains("phase Complete"),
            "{text}"
        );
    }

    #[test]
    fn a_doctored_rayjob_transition_diverges_after_its_event() {
        let mut dump = sample::job_dump();
        let entry = dump
            .entries
            .iter_mut()
            .find(|e| e.payload.get().contains("\"to\":\"Complete\""))
            .unwrap();
        let doctored = entry
            .payload
            .get()
            .replace("\"to\":\"Complete\"", "\"to\":\"Failed\"");
        entry.payload = RawValue::from_string(doctored).unwrap();
        let seq = entry.seq;
        let replay = replay_dump(&dump).unwrap();
        let report = replay.divergence.unwrap().report();
        assert!(
            report.contains(&format!("(seq {seq}, ")) && report.contains("a Transition record"),
            "{report}"
        );
        assert!(report.contains("ray=SUCCEEDED"), "{report}");
        assert!(
            report.contains("-  \"Failed\"") && report.contains("+  \"Complete\""),
            "{report}"
        );
    }
}
