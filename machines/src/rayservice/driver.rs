//! [`ServiceMachine`]: the entry point the operator and the journal use for
//! a RayService. It wraps the statig machine, emits `WakeAt` for the next
//! deletion or weight step, and snapshots with serde.
//!
//! Timers: a due deletion and the next incremental weight step. A `Tick`
//! converges against the last world seen at its own moment; a changed
//! [`ServiceMachine::next_wake`] is emitted as the step's last command.

use serde::{Deserialize, Serialize};
use statig::prelude::*;

use super::{
    command::{ServiceCommand, ServiceCommandKind},
    input::ServiceInput,
    machine::{Outbox, Service, ServiceEvent, State, phase_of},
    phase::ServicePhase,
};
use crate::{Millis, Step};

/// One RayService's machine.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceMachine {
    inner: StateMachine<Service>,
}

impl std::fmt::Debug for ServiceMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceMachine")
            .field("state", self.state())
            .field("service", self.service())
            .finish()
    }
}

/// Equal when state and storage are equal (statig's own equality also
/// compares its initialised flag, which a restored machine lacks).
impl PartialEq for ServiceMachine {
    fn eq(&self, other: &Self) -> bool {
        self.state() == other.state() && self.service() == other.service()
    }
}

impl Eq for ServiceMachine {}

impl Default for ServiceMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl ServiceMachine {
    /// A machine in New.
    #[must_use]
    pub fn new() -> Self {
        ServiceMachine {
            inner: Service::default().state_machine(),
        }
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> ServicePhase {
        phase_of(self.inner.state())
    }

    /// The statig state.
    #[must_use]
    pub fn state(&self) -> &State {
        self.inner.state()
    }

    /// The storage shared by all states.
    #[must_use]
    pub fn service(&self) -> &Service {
        &self.inner
    }

    /// The earliest timer still to come, outside the terminal and idle phases.
    #[must_use]
    pub fn next_wake(&self) -> Option<Millis> {
        if matches!(
            self.phase(),
            ServicePhase::New
                | ServicePhase::Deleted
                | ServicePhase::Suspended
                | ServicePhase::Invalid
        ) {
            return None;
        }
        let service = self.service();
        [service.next_deletion(), service.next_step_at()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Feeds one event and returns what it did.
    pub fn step(&mut self, event: &ServiceEvent) -> Step<ServicePhase, ServiceCommand> {
        let from = self.phase();
        let wake_before = self.next_wake();
        let mut outbox = Outbox {
            at: event.at,
            ..Outbox::default()
        };
        self.inner.handle_with_context(event, &mut outbox);
        let mut commands = outbox.finish();
        let wake_after = self.next_wake();
        if wake_after != wake_before
            && let Some(at) = wake_after
        {
            commands.push(ServiceCommand::WakeAt(at));
        }
        Step {
            from,
            to: self.phase(),
            commands,
        }
    }

    /// What a restored machine asks of an interpreter with empty memory:
    /// its last status and its earliest timer, or to be forgotten.
    #[must_use]
    pub fn resume(&self) -> Vec<ServiceCommand> {
        if self.phase() == ServicePhase::Deleted {
            return vec![ServiceCommand::Forget];
        }
        let status = self
            .service()
            .last_status
            .clone()
            .map(ServiceCommand::PublishStatus);
        status
            .into_iter()
            .chain(self.next_wake().map(ServiceCommand::WakeAt))
            .collect()
    }
}

impl crate::Machine for ServiceMachine {
    type Input = ServiceInput;
    type Command = ServiceCommand;
    type CommandKind = ServiceCommandKind;
    type Phase = ServicePhase;

    const SNAPSHOT_VERSION: u32 = 1;

    fn step(&mut self, event: &ServiceEvent) -> Step<ServicePhase, ServiceCommand> {
        ServiceMachine::step(self, event)
    }

    fn phase(&self) -> ServicePhase {
        ServiceMachine::phase(self)
    }

    fn resume(&self) -> Vec<ServiceCommand> {
        ServiceMachine::resume(self)
    }

    fn kind_of(command: &ServiceCommand) -> ServiceCommandKind {
        command.kind()
    }

    fn writes_at_once(kind: ServiceCommandKind) -> bool {
        kind.writes_at_once()
    }

    fn tick() -> ServiceInput {
        ServiceInput::Tick
    }

    fn deleted() -> ServiceInput {
        ServiceInput::Deleted
    }

    fn command_failed(
        command: ServiceCommandKind,
        reason: String,
        message: String,
    ) -> ServiceInput {
        ServiceInput::CommandFailed {
            command,
            reason,
            message,
        }
    }
}
