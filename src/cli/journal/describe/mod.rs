//! One-line descriptions of journal records, for timelines and diffs.
//!
//! Role: say what matters about an event, a command or a result in a few
//! words: `Observed gen=3 head=ready groups small 2/2`,
//! `EnsureGroup(small, 3)`, `EnsureGroup failed: forbidden`. The full
//! records remain available as JSON (`show --json`, `export`). The record
//! frame (transitions, results, resyncs) is described once here; each
//! kind's machine says how its events and commands read ([`Describe`], in
//! [`cluster`] and [`job`]).
//!
//! Invariant: descriptions are pure functions of the record: the same
//! journal always prints the same timeline.

use std::fmt::Display;

use rayop_machines::{Event, Machine, Millis, Notice};

use super::time;
use crate::record::{CommandResult, Record};

pub mod cluster;
pub mod cron;
pub mod job;

/// How a kind's events and commands read in a timeline.
pub trait Describe: Machine {
    /// The event's kind with its key facts.
    fn event(event: &Event<Self::Input>) -> String;
    /// One command as `Kind(args)`.
    fn command(command: &Self::Command) -> String;
}

/// One line for `record`, as `journal show` prints it after the time and seq.
#[must_use]
pub fn record<M: Describe>(record: &Record<M>) -> String {
    match record {
        Record::Event(event) => M::event(event),
        Record::Transition { from, to } => format!("{from} → {to}"),
        Record::Commands(commands) => format!("commands: {}", self::commands::<M>(commands)),
        Record::Results(results) => format!("results: {}", self::results(results)),
        Record::Resync(machine) => format!(
            "resync: the journal lost track of the machine here; it continues from phase {}",
            machine.phase()
        ),
    }
}

/// Commands as `Kind(args)`, comma-separated; `none` for an empty list.
#[must_use]
pub fn commands<M: Describe>(commands: &[M::Command]) -> String {
    if commands.is_empty() {
        return "none".to_owned();
    }
    commands
        .iter()
        .map(M::command)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Results as `Kind ok` / `Kind failed: error`, comma-separated.
#[must_use]
pub fn results<K: Display>(results: &[CommandResult<K>]) -> String {
    if results.is_empty() {
        return "none".to_owned();
    }
    results
        .iter()
        .map(|r| match &r.error {
            None => format!("{} ok", r.command),
            Some(error) => format!("{} failed: {error}", r.command),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An Event to record, as `Announce(Warning Reason)`; every kind's.
#[must_use]
pub fn announce(notice: &Notice) -> String {
    format!("Announce({:?} {})", notice.severity, notice.reason)
}

/// A timer, as `WakeAt(2023-11-14T22:13:21.000Z)`; every kind's.
#[must_use]
pub fn wake_at(at: Millis) -> String {
    format!(
        "WakeAt({})",
        time::rfc3339_millis(i64::try_from(at.0).unwrap_or(i64::MAX))
    )
}

/// The first of `problems` and how many more, as ` invalid(first, +2 more)`;
/// empty when there is none.
#[must_use]
pub fn invalid(problems: &[String]) -> String {
    match problems {
        [] => String::new(),
        [first] => format!(" invalid({first})"),
        [first, rest @ ..] => format!(" invalid({first}, +{} more)", rest.len()),
    }
}
