//! Golden journals: one recorded journal per edge of the machine's transition
//! table (every edge id from every phase it leaves), replayed through the
//! current machine. Any change in the machine's decisions (phases, commands,
//! or the state it snapshots) fails here, naming the edge and the divergence.
//!
//! The fixtures in `tests/fixtures/journals/<edge>--<FromPhase>.jsonl` are
//! JSON-lines exports (the journal crate's format, as `rayop journal export`
//! writes them) of one stream each. They were produced by driving a machine
//! from Pending to the edge's source phase and then along the edge, with the
//! scenario builders of the machine's own edge test, journaling each decision
//! the way the operator does: the event, transition and commands of a decision
//! in one append through [`JournalHandle::append`] (which snapshots when due),
//! then the commands' [`Record::Results`] when the operator would write them.
//! Unlike the operator, every event is journaled, even a quiet one the
//! operator skips, so quiet edges (`steady`, `terminal`) are pinned too.
//!
//! Re-bless after an *intended* behaviour change with
//! `RAYOP_BLESS=1 cargo test -p rayop --test golden_journals`, then review the
//! fixture diff like any other change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../machines/tests/support/mod.rs"]
mod support;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use rayop::{
    cli::journal::replay::{self, ReplayDivergence},
    decide,
    journal_view::load::{self, StreamDump},
    journaling::JournalHandle,
    record::{self, CommandResult, Record},
};
use rayop_journal::{Journal, Options};
use rayop_machines::{
    ClusterMachine, Event, Input, Observation, Phase,
    table::{Edge, TABLE},
};
use serde_json::Value;
use support::*;

const BLESS_HINT: &str = "if the change of behaviour is intended, re-bless with \
    `RAYOP_BLESS=1 cargo test -p rayop --test golden_journals` and review the diff of \
    tests/fixtures/journals/";

/// Snapshot cadence of the fixtures: small, so most fixtures carry snapshots
/// and the replay compares the machine's state with them.
const SNAPSHOT_EVERY: u64 = 4;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journals")
}

fn fixture_name(edge: &Edge, from: Phase) -> String {
    format!("{}--{}.jsonl", edge.id, from.as_str())
}

fn cases() -> Vec<(&'static Edge, Phase)> {
    TABLE
        .iter()
        .flat_map(|edge| edge.from.iter().map(move |&from| (edge, from)))
        .collect()
}

/// The fixtures directory, (re)generated first when `RAYOP_BLESS` is set.
fn fixtures() -> &'static Path {
    static BLESSED: OnceLock<PathBuf> = OnceLock::new();
    BLESSED.get_or_init(|| {
        let dir = fixture_dir();
        if std::env::var_os("RAYOP_BLESS").is_some() {
            bless(&dir);
        }
        dir
    })
}

// ---- scenarios (the machine's edge test, as event lists) ----

/// The events that drive a fresh machine into `phase` (as `drive_to` in the
/// machine's test support, which returns the machine instead).
fn history_to(phase: Phase) -> Vec<Event> {
    let s = spec();
    let deleted = |t| Event {
        at: t,
        input: Input::Deleted,
    };
    let events = match phase {
        Phase::Pending => vec![],
        Phase::HeadStarting => vec![observed(at(1), &s, &Observation::default())],
        Phase::Scaling => vec![
            observed(at(1), &s, &Observation::default()),
            observed(at(2), &s, &with_head(applied(&s), "head-1")),
        ],
        Phase::Ready => vec![
            observed(at(1), &s, &Observation::default()),
            observed(at(2), &s, &converged(&s)),
            observed(at(3), &s, &converged(&s)),
        ],
        Phase::Recovering => {
            let mut lost = converged(&s);
            lost.head.pod = None;
            vec![
                observed(at(1), &s, &Observation::default()),
                observed(at(2), &s, &converged(&s)),
                observed(at(3), &s, &converged(&s)),
                observed(at(4), &s, &lost),
            ]
        }
        Phase::Suspended => {
            let mut suspended = spec();
            suspended.suspend = true;
            vec![
                observed(at(1), &suspended, &Observation::default()),
                observed(at(2), &suspended, &applied(&suspended)),
            ]
        }
        Phase::Deleted => vec![observed(at(1), &s, &Observation::default()), deleted(at(2))],
    };
    let mut m = ClusterMachine::new();
    for e in &events {
        m.step(e);
    }
    assert_eq!(m.phase(), phase, "history_to could not reach {phase}");
    events
}

// ---- the generator ----

/// Journals `events` into stream `uid` under `key` in `dir` as the operator
/// does, and returns the machine's last step.
fn record(dir: &Path, uid: &str, key: &str, events: &[Event]) -> rayop_machines::Step {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = Options {
            snapshot_every: SNAPSHOT_EVERY,
            ..Options::default()
        };
        let (handle, _) = JournalHandle::open(dir, options).unwrap();
        let mut machine = ClusterMachine::new();
        let mut last = None;
        for (i, event) in events.iter().enumerate() {
            let step = decide::decide(&mut machine, event).step;
            let records = record::decision_records(event, step.from, step.to, &step.commands);
            handle
                .append(uid, key, event.at, records, &machine)
                .await
                .unwrap();
            // What became of the commands: all succeed, except the one a
            // following CommandFailed event reports.
            let failed = match events.get(i + 1).map(|e| &e.input) {
                Some(Input::CommandFailed {
                    command, message, ..
                }) => Some((*command, message.clone())),
                _ => None,
            };
            let mut results: Vec<CommandResult> = step
                .commands
                .iter()
                .map(|c| CommandResult {
                    command: c.kind(),
                    error: None,
                })
                .collect();
            if let Some((kind, message)) = failed
                && let Some(r) = results.iter_mut().find(|r| r.command == kind)
            {
                r.error = Some(message);
            }
            // The operator's rule: results are journaled when a command
            // that writes at once ran.
            if results.iter().any(|r| r.command.writes_at_once()) {
                handle
                    .append(uid, key, event.at, vec![Record::Results(results)], &machine)
                    .await
                    .unwrap();
            }
            if event.input == Input::Deleted {
                handle.mark_deleted(uid, event.at).await.unwrap();
            }
            last = Some(step);
        }
        last.expect("at least one event")
    })
}

fn bless(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let wanted: BTreeSet<String> = cases().iter().map(|(e, f)| fixture_name(e, *f)).collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") && !wanted.contains(&name) {
            std::fs::remove_file(dir.join(&name)).unwrap();
        }
    }
    for (edge, from) in cases() {
        let mut events = history_to(from);
        let last = events.last().map_or(T0, |e| e.at);
        events.push(event_for(edge.id, from, last));
        let lower = from.as_str().to_lowercase();
        let uid = format!("golden-{}-{lower}", edge.id);
        let key = format!("golden/{}-{lower}", edge.id);
        let tmp = tempfile::tempdir().unwrap();
        let step = record(tmp.path(), &uid, &key, &events);
        assert_eq!(
            (step.from, step.to),
            (from, edge.to_for(from)),
            "the golden scenario of edge {} from {from} does not take the edge",
            edge.id
        );
        let (journal, _) = Journal::open(tmp.path(), Options::default()).unwrap();
        let mut bytes = Vec::new();
        journal.export(&mut bytes).unwrap();
        std::fs::write(dir.join(fixture_name(edge, from)), bytes).unwrap();
    }
}

// ---- reading fixtures ----

fn read_fixture(edge: &Edge, from: Phase) -> String {
    let path = fixtures().join(fixture_name(edge, from));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden journal {} of edge {} from {from} is missing ({e}); generate it with \
             `RAYOP_BLESS=1 cargo test -p rayop --test golden_journals`",
            path.display(),
            edge.id
        )
    })
}

/// Imports JSON lines into a fresh journal, as a bug report's journal would
/// be, and reads its one stream back.
fn import(text: &str) -> (tempfile::TempDir, StreamDump) {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path(), Options::default()).unwrap();
    let summary = journal.import(text.as_bytes()).unwrap();
    assert_eq!(summary.streams, 1);
    let ids: Vec<String> = journal
        .streams()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut dumps = load::load_streams(&journal, &ids).unwrap();
    assert_eq!(dumps.len(), 1);
    (dir, dumps.remove(0))
}

fn records_of(dump: &StreamDump) -> Vec<Record> {
    load::decode_records(dump)
        .unwrap()
        .into_iter()
        .map(|e| e.record)
        .collect()
}

/// Rewrites the payload of entry lines (or the state of snapshot lines) with `f`.
fn doctor(text: &str, mut f: impl FnMut(&str, &mut Value) -> bool) -> String {
    let mut changed = 0;
    let out: String = text
        .lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            let kind = v["kind"].as_str().unwrap_or_default().to_owned();
            let field = match kind.as_str() {
                "entry" => "payload",
                "snapshot" => "state",
                _ => return format!("{line}\n"),
            };
            if f(&kind, &mut v[field]) {
                changed += 1;
            }
            format!("{}\n", serde_json::to_string(&v).unwrap())
        })
        .collect();
    assert_eq!(changed, 1, "the doctoring should change exactly one line");
    out
}

// ---- the tests ----

#[test]
fn every_edge_from_every_phase_has_a_golden_journal() {
    let dir = fixtures();
    let wanted: BTreeSet<String> = cases().iter().map(|(e, f)| fixture_name(e, *f)).collect();
    let present: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    let missing: Vec<_> = wanted.difference(&present).collect();
    let stale: Vec<_> = present.difference(&wanted).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "golden journals out of step with machines' TABLE: missing {missing:?}, for no edge \
         {stale:?}; run `RAYOP_BLESS=1 cargo test -p rayop --test golden_journals`"
    );
    assert!(wanted.len() >= TABLE.len());
}

#[test]
fn every_golden_journal_replays_identically_through_the_current_machine() {
    let mut failures = Vec::new();
    let mut events = 0;
    let mut snapshots = 0;
    for (edge, from) in cases() {
        let (_dir, dump) = import(&read_fixture(edge, from));
        let replay = match replay::replay_dump(&dump) {
            Ok(replay) => replay,
            Err(e) => {
                failures.push(format!(
                    "edge {} from {from} ({}): {e}\n  A recorded journal that no longer decodes \
                     means journals written by released operators would not decode either: \
                     prefer #[serde(default)] on new fields, or bump RECORD_VERSION (or the \
                     snapshot's version) with an upcast.",
                    edge.id,
                    fixture_name(edge, from)
                ));
                continue;
            }
        };
        assert_eq!(replay.start, replay::Start::Beginning);
        assert!(replay.notes.is_empty(), "{:?}", replay.notes);
        events += replay.events;
        snapshots += replay.snapshots_checked;
        if let Some(d) = &replay.divergence {
            failures.push(format!(
                "edge {} from {from} ({}): the current machine diverges from the recorded \
                 journal:\n{}",
                edge.id,
                fixture_name(edge, from),
                d.report()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden journal(s) diverge; {BLESS_HINT}\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(events >= cases().len(), "only {events} events replayed");
    assert!(snapshots > 0, "no fixture carries a snapshot to compare");
}

/// The fixtures are checked against the published table, independently of
/// the machine: the last decision of each is its edge.
#[test]
fn every_golden_journal_ends_with_its_edge() {
    for (edge, from) in cases() {
        let (_dir, dump) = import(&read_fixture(edge, from));
        let records = records_of(&dump);
        let last_event = records
            .iter()
            .rposition(|r| matches!(r, Record::Event(_)))
            .unwrap();
        let mut transition = None;
        let mut kinds: Vec<rayop_machines::CommandKind> = Vec::new();
        for r in &records[last_event + 1..] {
            match r {
                Record::Transition { from, to } => transition = Some((*from, *to)),
                Record::Commands(commands) => {
                    for c in commands {
                        if !kinds.contains(&c.kind()) {
                            kinds.push(c.kind());
                        }
                    }
                }
                _ => {}
            }
        }
        let to = edge.to_for(from);
        let expected = (to != from).then_some((from, to));
        assert_eq!(transition, expected, "{}", fixture_name(edge, from));
        assert_eq!(kinds, edge.commands, "{}", fixture_name(edge, from));
    }
}

fn edge(id: &str) -> &'static Edge {
    TABLE.iter().find(|e| e.id == id).unwrap()
}

#[test]
fn a_doctored_transition_is_reported_at_its_record() {
    let text = read_fixture(edge("pending-start"), Phase::Pending);
    let doctored = doctor(&text, |kind, payload| {
        if kind == "entry" && payload.get("transition").is_some() {
            payload["transition"]["to"] = Value::from("Ready");
            true
        } else {
            false
        }
    });
    let (_dir, dump) = import(&doctored);
    let index = records_of(&dump)
        .iter()
        .position(|r| matches!(r, Record::Transition { .. }))
        .unwrap();
    let replay = replay::replay_dump(&dump).unwrap();
    let d = replay.divergence.expect("a doctored journal must diverge");
    assert_eq!(d.index(), Some(index));
    let ReplayDivergence::Record { kind, seq, .. } = &d else {
        panic!("expected a record divergence, got {d:?}")
    };
    assert_eq!(*kind, "Transition");
    assert_eq!(*seq, Some(dump.entries[index].seq));
    let report = d.report();
    assert!(report.contains(&format!("record {index}")), "{report}");
    assert!(report.contains("-  \"Ready\""), "{report}");
    assert!(report.contains("+  \"HeadStarting\""), "{report}");
}

#[test]
fn a_dropped_command_is_reported_at_its_record() {
    let text = read_fixture(edge("spec-changed"), Phase::Ready);
    let records = records_of(&import(&text).1);
    let target = records
        .iter()
        .rposition(|r| matches!(r, Record::Commands(_)))
        .unwrap();
    let mut seen = 0;
    let doctored = doctor(&text, |kind, payload| {
        if kind != "entry" {
            return false;
        }
        let Some(list) = payload.get_mut("commands").and_then(Value::as_array_mut) else {
            return false;
        };
        seen += 1;
        if seen
            != records[..=target]
                .iter()
                .filter(|r| matches!(r, Record::Commands(_)))
                .count()
        {
            return false;
        }
        // Drop the EnsureGroup the edge exists for.
        let before = list.len();
        list.retain(|c| c.get("EnsureGroup").is_none());
        list.len() < before
    });
    let (_dir, dump) = import(&doctored);
    let d = replay::replay_dump(&dump)
        .unwrap()
        .divergence
        .expect("a doctored journal must diverge");
    assert_eq!(d.index(), Some(target));
    let report = d.report();
    assert!(report.contains("a Commands record"), "{report}");
    assert!(report.contains("+    \"EnsureGroup\": {"), "{report}");
}

#[test]
fn a_doctored_snapshot_is_reported() {
    let text = read_fixture(edge("head-lost"), Phase::Ready);
    let mut first = true;
    let doctored = doctor(&text, |kind, state| {
        if kind != "snapshot" || !first {
            return false;
        }
        first = false;
        let text = serde_json::to_string(state).unwrap();
        assert!(text.contains("\"head_failures\":0"), "{text}");
        *state = serde_json::from_str(&text.replace("\"head_failures\":0", "\"head_failures\":7"))
            .unwrap();
        true
    });
    let (_dir, dump) = import(&doctored);
    let d = replay::replay_dump(&dump)
        .unwrap()
        .divergence
        .expect("a doctored snapshot must diverge");
    let ReplayDivergence::Snapshot { at_seq, .. } = &d else {
        panic!("expected a snapshot divergence, got {d:?}")
    };
    assert_eq!(*at_seq, dump.snapshots[0].at_seq);
    let report = d.report();
    let lines: Vec<&str> = report.lines().map(str::trim_start).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('-') && l.contains("\"head_failures\": 7")),
        "{report}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('+') && l.contains("\"head_failures\": 0")),
        "{report}"
    );
}
