//! [`CronMachine`]: the entry point the operator and the journal use for a
//! RayCronJob. It wraps the statig machine, emits `WakeAt` for the next tick
//! (or retry), and snapshots with serde.
//!
//! Timers: the only timers are the next tick and a failed create's retry,
//! both in storage. A `Tick` handles whatever is due at its moment; an
//! observation decides from the fresh spec itself (a tick that passed while
//! the RayCronJob was being suspended is not created first). A changed
//! [`CronMachine::next_wake`] is emitted as the step's last command.

use serde::{Deserialize, Serialize};
use statig::prelude::*;

use super::{
    command::{CronCommand, CronCommandKind},
    input::CronInput,
    machine::{Cron, CronEvent, Outbox, State, phase_of},
    phase::CronPhase,
};
use crate::{Millis, Step};

/// One RayCronJob's machine.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CronMachine {
    inner: StateMachine<Cron>,
}

impl std::fmt::Debug for CronMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronMachine")
            .field("state", self.state())
            .field("cron", self.cron())
            .finish()
    }
}

/// Equal when state and storage are equal (statig's own equality also
/// compares its initialised flag, which a restored machine lacks).
impl PartialEq for CronMachine {
    fn eq(&self, other: &Self) -> bool {
        self.state() == other.state() && self.cron() == other.cron()
    }
}

impl Eq for CronMachine {}

impl Default for CronMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl CronMachine {
    /// A machine in New.
    #[must_use]
    pub fn new() -> Self {
        CronMachine {
            inner: Cron::default().state_machine(),
        }
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> CronPhase {
        phase_of(self.inner.state())
    }

    /// The statig state.
    #[must_use]
    pub fn state(&self) -> &State {
        self.inner.state()
    }

    /// The storage shared by all states.
    #[must_use]
    pub fn cron(&self) -> &Cron {
        &self.inner
    }

    /// The earliest timer: the next tick or a retry, only while Scheduling.
    #[must_use]
    pub fn next_wake(&self) -> Option<Millis> {
        if self.phase() != CronPhase::Scheduling {
            return None;
        }
        let cron = self.cron();
        [cron.next_tick, cron.retry.map(|r| r.at)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Feeds one event and returns what it did.
    pub fn step(&mut self, event: &CronEvent) -> Step<CronPhase, CronCommand> {
        let from = self.phase();
        let wake_before = self.next_wake();
        let mut outbox = Outbox {
            at: event.at,
            commands: Vec::new(),
        };
        self.inner.handle_with_context(event, &mut outbox);
        let wake_after = self.next_wake();
        if wake_after != wake_before
            && let Some(at) = wake_after
        {
            outbox.commands.push(CronCommand::WakeAt(at));
        }
        Step {
            from,
            to: self.phase(),
            commands: outbox.commands,
        }
    }

    /// What a restored machine asks of an interpreter with empty memory:
    /// its last `lastScheduleTime` and its earliest timer, or to be forgotten.
    #[must_use]
    pub fn resume(&self) -> Vec<CronCommand> {
        if self.phase() == CronPhase::Deleted {
            return vec![CronCommand::Forget];
        }
        let status = self
            .cron()
            .last_schedule
            .map(|last_schedule| CronCommand::PatchStatus { last_schedule });
        status
            .into_iter()
            .chain(self.next_wake().map(CronCommand::WakeAt))
            .collect()
    }
}

impl crate::Machine for CronMachine {
    type Input = CronInput;
    type Command = CronCommand;
    type CommandKind = CronCommandKind;
    type Phase = CronPhase;

    const SNAPSHOT_VERSION: u32 = 1;

    fn step(&mut self, event: &CronEvent) -> Step<CronPhase, CronCommand> {
        CronMachine::step(self, event)
    }

    fn phase(&self) -> CronPhase {
        CronMachine::phase(self)
    }

    fn resume(&self) -> Vec<CronCommand> {
        CronMachine::resume(self)
    }

    fn kind_of(command: &CronCommand) -> CronCommandKind {
        command.kind()
    }

    fn writes_at_once(kind: CronCommandKind) -> bool {
        kind.writes_at_once()
    }

    fn tick() -> CronInput {
        CronInput::Tick
    }

    fn deleted() -> CronInput {
        CronInput::Deleted
    }

    fn command_failed(command: CronCommandKind, reason: String, message: String) -> CronInput {
        CronInput::CommandFailed {
            command,
            reason,
            message,
        }
    }
}
