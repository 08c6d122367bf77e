//! [`JobMachine`]: the entry point the operator and the journal use for a
//! RayJob. It wraps the statig machine, fires due timers, emits `WakeAt`,
//! and snapshots with serde.
//!
//! Timers: timers due by an event's time fire (as a `Tick` at that moment)
//! *before* the event, so a deadline that passed is never overtaken by a late
//! observation, and again after it (the event may have made one due); then a
//! changed [`JobMachine::next_wake`] is emitted as the step's last `WakeAt`.

use serde::{Deserialize, Serialize};
use statig::prelude::*;

use super::{
    command::{JobCommand, JobCommandKind},
    input::JobInput,
    machine::{Job, JobEvent, Outbox, State, phase_of},
    phase::JobPhase,
    timers,
};
use crate::{Millis, Step};

/// One RayJob's machine.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobMachine {
    inner: StateMachine<Job>,
}

impl std::fmt::Debug for JobMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobMachine")
            .field("state", self.state())
            .field("job", self.job())
            .finish()
    }
}

/// Equal when state and storage are equal (statig's own equality also
/// compares its initialised flag, which a restored machine lacks).
impl PartialEq for JobMachine {
    fn eq(&self, other: &Self) -> bool {
        self.state() == other.state() && self.job() == other.job()
    }
}

impl Eq for JobMachine {}

impl Default for JobMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl JobMachine {
    /// A machine in New.
    #[must_use]
    pub fn new() -> Self {
        JobMachine {
            inner: Job::default().state_machine(),
        }
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> JobPhase {
        phase_of(self.inner.state())
    }

    /// The statig state.
    #[must_use]
    pub fn state(&self) -> &State {
        self.inner.state()
    }

    /// The storage shared by all states.
    #[must_use]
    pub fn job(&self) -> &Job {
        &self.inner
    }

    /// The earliest timer, if any; after a step it is later than the step's event.
    #[must_use]
    pub fn next_wake(&self) -> Option<Millis> {
        timers::next_wake(self.job(), self.phase())
    }

    /// Feeds one event and returns what it did.
    pub fn step(&mut self, event: &JobEvent) -> Step<JobPhase, JobCommand> {
        let from = self.phase();
        let wake_before = self.next_wake();
        let mut outbox = Outbox {
            at: event.at,
            commands: Vec::new(),
        };
        let tick = JobEvent {
            at: event.at,
            input: JobInput::Tick,
        };
        if event.input != JobInput::Tick {
            self.fire_due(&tick, &mut outbox);
        }
        self.inner.handle_with_context(event, &mut outbox);
        self.fire_due(&tick, &mut outbox);
        let wake_after = self.next_wake();
        if wake_after != wake_before
            && let Some(at) = wake_after
        {
            outbox.commands.push(JobCommand::WakeAt(at));
        }
        Step {
            from,
            to: self.phase(),
            commands: outbox.commands,
        }
    }

    /// Fires due timers; each firing clears its timer or leaves the phase,
    /// and a bounded number of rounds keeps the step finite whatever happens.
    fn fire_due(&mut self, tick: &JobEvent, outbox: &mut Outbox) {
        for _ in 0..4 {
            if self.next_wake().is_none_or(|w| w > tick.at) {
                break;
            }
            self.inner.handle_with_context(tick, outbox);
        }
    }

    /// What a restored machine asks of an interpreter with empty memory:
    /// its last status and its earliest timer, or to be forgotten.
    #[must_use]
    pub fn resume(&self) -> Vec<JobCommand> {
        if self.phase() == JobPhase::Deleted {
            return vec![JobCommand::Forget];
        }
        let status = self
            .job()
            .last_status
            .clone()
            .map(JobCommand::PublishStatus);
        status
            .into_iter()
            .chain(self.next_wake().map(JobCommand::WakeAt))
            .collect()
    }
}

impl crate::Machine for JobMachine {
    type Input = JobInput;
    type Command = JobCommand;
    type CommandKind = JobCommandKind;
    type Phase = JobPhase;

    const SNAPSHOT_VERSION: u32 = 1;

    fn step(&mut self, event: &JobEvent) -> Step<JobPhase, JobCommand> {
        JobMachine::step(self, event)
    }

    fn phase(&self) -> JobPhase {
        JobMachine::phase(self)
    }

    fn resume(&self) -> Vec<JobCommand> {
        JobMachine::resume(self)
    }

    fn kind_of(command: &JobCommand) -> JobCommandKind {
        command.kind()
    }

    fn writes_at_once(kind: JobCommandKind) -> bool {
        kind.writes_at_once()
    }

    fn tick() -> JobInput {
        JobInput::Tick
    }

    fn deleted() -> JobInput {
        JobInput::Deleted
    }

    fn command_failed(command: JobCommandKind, reason: String, message: String) -> JobInput {
        JobInput::CommandFailed {
            command,
            reason,
            message,
        }
    }
}
