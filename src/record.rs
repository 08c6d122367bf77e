//! What the operator writes to the journal, and how a journal is replayed.
//!
//! One reconcile that decided something appends, in one atomic append and
//! *before* any command runs: the [`Record::Event`], then the
//! [`Record::Transition`] if the phase changed, then the [`Record::Commands`].
//! After the commands ran, one [`Record::Results`] follows. Replaying feeds
//! every recorded event to a machine and compares what it decides with the
//! recorded transitions and commands.
//!
//! Invariants:
//! - Records are versioned ([`RECORD_VERSION`]); older versions are upcast
//!   by the journal on read.
//! - Replay never performs a command: it only compares.

use rayop_journal::Versioned;
use rayop_machines::{ClusterMachine, Event, Machine};
use serde::{Deserialize, Serialize};

/// The current schema version of [`Record`].
pub const RECORD_VERSION: u32 = 1;

/// One journal entry of a cluster's stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(serialize = "", deserialize = ""))]
// Records live only between a decision and its append; boxing the event
// would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Record<M: Machine = ClusterMachine> {
    /// An observation turned into a machine event.
    Event(Event<M::Input>),
    /// The event changed the phase; absent when the phase stayed the same.
    Transition {
        /// The phase before the event.
        from: M::Phase,
        /// The phase the machine entered; never equal to `from`.
        to: M::Phase,
    },
    /// The commands the machine issued for the preceding event.
    Commands(Vec<M::Command>),
    /// What became of each command, in order.
    Results(Vec<CommandResult<M::CommandKind>>),
    /// The operator's machine as it was when the journal lost track of it
    /// (an append that failed, or a restore that could not read the
    /// stream), written before the next decision that could be journaled.
    /// Replay and restore continue from it: the decisions in the gap were
    /// never recorded, and this says so instead of diverging later.
    Resync(M),
}

impl<M: Machine> Versioned for Record<M> {
    const VERSION: u32 = RECORD_VERSION;
}

/// What became of one command of kind `K`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandResult<K = rayop_machines::CommandKind> {
    /// Which command, by kind; results are in the same order as the commands.
    pub command: K,
    /// `None` when it succeeded; the error otherwise.
    pub error: Option<String>,
}

/// The records of one decision, in journal order.
#[must_use]
pub fn decision_records<M: Machine>(
    event: &Event<M::Input>,
    from: M::Phase,
    to: M::Phase,
    commands: &[M::Command],
) -> Vec<Record<M>> {
    let mut records = vec![Record::Event(event.clone())];
    if from != to {
        records.push(Record::Transition { from, to });
    }
    if !commands.is_empty() {
        records.push(Record::Commands(commands.to_vec()));
    }
    records
}

/// The first place where replay and the record disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the diverging record within the replayed records.
    pub index: usize,
    /// The recorded transition or commands as pretty JSON, or words such as `no commands`.
    pub recorded: String,
    /// What the current machine decides instead.
    pub replayed: String,
}

/// The outcome of a replay; the first divergence stops it.
#[derive(Debug)]
pub struct Replay<M = ClusterMachine> {
    /// The machine after the last event.
    pub machine: M,
    /// Events fed to the machine, up to the divergence if there is one.
    pub events: usize,
    /// The first record that disagrees; `None` when every decision matched.
    pub divergence: Option<Divergence>,
}

fn show<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<unprintable: {e}>"))
}

/// A replay in progress: what the machine decided for the last event that the
/// records have not yet confirmed (its transition, then its commands).
struct Replayer<M: Machine> {
    machine: M,
    events: usize,
    expect_transition: Option<(M::Phase, M::Phase)>,
    expect_commands: Option<Vec<M::Command>>,
}

fn diverge(index: usize, recorded: String, replayed: String) -> Divergence {
    Divergence {
        index,
        recorded,
        replayed,
    }
}

impl<M: Machine> Replayer<M> {
    /// Checks record `index` against what the machine decided.
    fn feed(&mut self, index: usize, record: &Record<M>) -> Result<(), Divergence> {
        match record {
            Record::Event(event) => {
                if let Some(missing) = self.expect_transition.take() {
                    return Err(diverge(index, "no transition".into(), show(&missing)));
                }
                if let Some(missing) = self.expect_commands.take() {
                    return Err(diverge(index, "no commands".into(), show(&missing)));
                }
                let step = self.machine.step(event);
                self.events += 1;
                if step.transitioned() {
                    self.expect_transition = Some((step.from, step.to));
                }
                if !step.commands.is_empty() {
                    self.expect_commands = Some(step.commands);
                }
            }
            Record::Transition { from, to } => match self.expect_transition.take() {
                Some(expected) if expected == (*from, *to) => {}
                other => {
                    let replayed = other.map_or_else(|| "no transition".into(), |t| show(&t));
                    return Err(diverge(index, show(&(from, to)), replayed));
                }
            },
            Record::Commands(commands) => {
                if let Some(missing) = self.expect_transition.take() {
                    return Err(diverge(index, "no transition".into(), show(&missing)));
                }
                match self.expect_commands.take() {
                    Some(expected) if &expected == commands => {}
                    other => {
                        let replayed = other.map_or_else(|| "no commands".into(), |c| show(&c));
                        return Err(diverge(index, show(commands), replayed));
                    }
                }
            }
            Record::Results(_) => {}
            Record::Resync(machine) => {
                // The decisions before it may be incomplete (their append
                // failed); nothing more is expected of them.
                self.expect_transition = None;
                self.expect_commands = None;
                self.machine = machine.clone();
            }
        }
        Ok(())
    }

    /// At the end of the records: anything decided but never recorded diverges.
    fn finish(&mut self, end: usize) -> Option<Divergence> {
        let transition = self.expect_transition.take();
        let commands = self.expect_commands.take();
        transition
            .map(|t| diverge(end, "end of journal".into(), show(&t)))
            .or_else(|| commands.map(|c| diverge(end, "end of journal".into(), show(&c))))
    }
}

/// Replays `records` through `machine` (a fresh one, or one restored from a
/// snapshot taken just before the first record).
#[must_use]
pub fn replay<M: Machine>(machine: M, records: &[Record<M>]) -> Replay<M> {
    let mut replayer = Replayer {
        machine,
        events: 0,
        expect_transition: None,
        expect_commands: None,
    };
    let divergence = records
        .iter()
        .enumerate()
        .find_map(|(index, record)| replayer.feed(index, record).err())
        .or_else(|| replayer.finish(records.len()));
    Replay {
        machine: replayer.machine,
        events: replayer.events,
        divergence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayop_machines::{DesiredSpec, Input, Millis, Observation, Phase};

    fn event(at: u64) -> Event {
        Event {
            at: Millis(at),
            input: Input::Observed {
                spec: DesiredSpec {
                    generation: 1,
                    head_hash: "h".into(),
                    ..DesiredSpec::default()
                },
                world: Observation::default(),
            },
        }
    }

    fn record_run(events: &[Event]) -> Vec<Record> {
        let mut machine = ClusterMachine::new();
        let mut records = Vec::new();
        for e in events {
            let step = machine.step(e);
            records.extend(decision_records::<ClusterMachine>(
                e,
                step.from,
                step.to,
                &step.commands,
            ));
            records.push(Record::Results(Vec::new()));
        }
        records
    }

    #[test]
    fn a_true_journal_replays_identically() {
        let records = record_run(&[event(1), event(2), event(3)]);
        let replay = replay(ClusterMachine::new(), &records);
        assert_eq!(replay.divergence, None);
        assert_eq!(replay.events, 3);
    }

    #[test]
    fn a_resync_record_continues_replay_from_the_recorded_machine() {
        // A run whose middle decision was never journaled (its append
        // failed): without the resync record the last decision diverges.
        let mut live = ClusterMachine::new();
        let mut records = Vec::new();
        for (at, journaled) in [(1, true), (2, false), (3, true)] {
            let before = live.clone();
            let e = event(at);
            let step = live.step(&e);
            if journaled {
                if at == 3 {
                    records.push(Record::Resync(before));
                }
                records.extend(decision_records::<ClusterMachine>(
                    &e,
                    step.from,
                    step.to,
                    &step.commands,
                ));
            }
        }
        let replay = replay(ClusterMachine::new(), &records);
        assert_eq!(replay.divergence, None);
        assert_eq!(replay.machine, live);
    }

    #[test]
    fn a_doctored_transition_is_found() {
        let mut records = record_run(&[event(1)]);
        for r in &mut records {
            if let Record::Transition { to, .. } = r {
                *to = Phase::Ready;
            }
        }
        let replay = replay(ClusterMachine::new(), &records);
        let d = replay.divergence.expect("divergence");
        assert_eq!(d.index, 1);
        assert!(d.recorded.contains("Ready"));
    }

    #[test]
    fn doctored_commands_are_found() {
        let mut records = record_run(&[event(1)]);
        for r in &mut records {
            if let Record::Commands(c) = r {
                c.pop();
            }
        }
        assert!(replay(ClusterMachine::new(), &records).divergence.is_some());
    }

    #[test]
    fn a_missing_commands_record_is_found() {
        let mut records = record_run(&[event(1), event(2)]);
        let first_commands = records
            .iter()
            .position(|r| matches!(r, Record::Commands(_)))
            .unwrap();
        records.remove(first_commands);
        assert!(replay(ClusterMachine::new(), &records).divergence.is_some());
    }

    #[test]
    fn records_round_trip_through_json() {
        for r in record_run(&[event(1)]) {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
        }
    }
}
