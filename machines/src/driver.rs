//! [`ClusterMachine`]: the one entry point the operator and the journal use.
//!
//! It wraps the statig machine, collects each step's outputs, and snapshots to
//! and restores from serde. A restored machine behaves exactly like the one
//! that was snapshotted (see the invariants in [`crate::machine`]).
//!
//! Timers: after any event, timers that are due by the event's time are
//! fired as a `Tick` at that moment would fire them; then a changed
//! [`ClusterMachine::next_wake`] is emitted as the step's last `WakeAt`. So `next_wake` is always later than the last event, and the
//! operator learns every timer from the commands alone.

use serde::{Deserialize, Serialize};
use statig::prelude::*;

use crate::{
    Command, Event, Input, Millis, Phase,
    machine::{Cluster, Outbox, State, phase_of},
};

/// One RayCluster's machine.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClusterMachine {
    inner: StateMachine<Cluster>,
}

/// What one event did to a machine with phases `P` and commands `C`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step<P = Phase, C = Command> {
    /// The phase before the event.
    pub from: P,
    /// The phase after the event.
    pub to: P,
    /// The commands to perform, in order.
    pub commands: Vec<C>,
}

impl<P: PartialEq, C> Step<P, C> {
    /// Whether the step changed the phase.
    #[must_use]
    pub fn transitioned(&self) -> bool {
        self.from != self.to
    }
}

impl std::fmt::Debug for ClusterMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterMachine")
            .field("state", self.state())
            .field("cluster", self.cluster())
            .finish()
    }
}

/// Equal when state and storage are equal. statig's own equality also compares
/// whether the machine was initialised, which a restored machine is not yet;
/// that flag only gates entry actions, of which this machine has none.
impl PartialEq for ClusterMachine {
    fn eq(&self, other: &Self) -> bool {
        self.state() == other.state() && self.cluster() == other.cluster()
    }
}

impl Eq for ClusterMachine {}

impl Default for ClusterMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl ClusterMachine {
    /// A machine in Pending, as for a cluster never seen before.
    #[must_use]
    pub fn new() -> Self {
        ClusterMachine {
            inner: Cluster::default().state_machine(),
        }
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> Phase {
        phase_of(self.inner.state())
    }

    /// The current statig state, with its local storage.
    #[must_use]
    pub fn state(&self) -> &State {
        self.inner.state()
    }

    /// The storage shared by all states.
    #[must_use]
    pub fn cluster(&self) -> &Cluster {
        &self.inner
    }

    /// Feeds one event and returns what it did.
    pub fn step(&mut self, event: &Event) -> Step {
        let from = self.phase();
        let wake_before = self.next_wake();
        let mut outbox = Outbox {
            at: event.at,
            ..Outbox::default()
        };
        self.inner.handle_with_context(event, &mut outbox);
        // Timers the event left due (it came late, or shortened a window)
        // fire now, as a Tick at the same moment would fire them. Each
        // firing clears its timer, so two rounds always suffice.
        let tick = Event {
            at: event.at,
            input: Input::Tick,
        };
        for _ in 0..2 {
            if self.next_wake().is_none_or(|w| w > event.at) {
                break;
            }
            self.inner.handle_with_context(&tick, &mut outbox);
        }
        let wake_after = self.next_wake();
        if wake_after != wake_before
            && let Some(at) = wake_after
        {
            outbox.commands.push(Command::WakeAt(at));
        }
        Step {
            from,
            to: self.phase(),
            commands: outbox.commands,
        }
    }

    /// What a machine restored from the journal asks of a new interpreter,
    /// whose own memory is empty: its last status to publish and its
    /// earliest timer, or, once deleted, to be forgotten (the stream may not
    /// have been marked when the operator stopped). Pure.
    #[must_use]
    pub fn resume(&self) -> Vec<Command> {
        if self.phase() == Phase::Deleted {
            return vec![Command::Forget];
        }
        let status = self
            .cluster()
            .last_status
            .clone()
            .map(Command::PublishStatus);
        status
            .into_iter()
            .chain(self.next_wake().map(Command::WakeAt))
            .collect()
    }

    /// The earliest moment a timer of the machine expires, if any: the operator
    /// should deliver a `Tick` no later than this. After a step, it is later
    /// than that step's event.
    #[must_use]
    pub fn next_wake(&self) -> Option<Millis> {
        if self.phase() == Phase::Deleted {
            return None;
        }
        let cluster = self.cluster();
        let mut wakes = Vec::new();
        if let Some(retry) = cluster.head_retry_at {
            wakes.push(retry);
        }
        if let Some(deadline) = cluster.cleanup_deadline {
            wakes.push(deadline);
        }
        match self.inner.state() {
            State::HeadStarting { since } | State::Recovering { lost_at: since }
                if !cluster.stuck_announced =>
            {
                wakes.push(since.plus(cluster.stuck_after_ms()));
            }
            State::Ready {} if cluster.head_failures > 0 => {
                if let Some(since) = cluster.ready_since {
                    wakes.push(since.plus(crate::backoff::RESET_AFTER_MS));
                }
            }
            _ => {}
        }
        wakes.into_iter().min()
    }
}

impl crate::Machine for ClusterMachine {
    type Input = Input;
    type Command = Command;
    type CommandKind = crate::CommandKind;
    type Phase = Phase;

    const SNAPSHOT_VERSION: u32 = 1;

    fn step(&mut self, event: &Event) -> Step {
        ClusterMachine::step(self, event)
    }

    fn phase(&self) -> Phase {
        ClusterMachine::phase(self)
    }

    fn resume(&self) -> Vec<Command> {
        ClusterMachine::resume(self)
    }

    fn kind_of(command: &Command) -> crate::CommandKind {
        command.kind()
    }

    fn writes_at_once(kind: crate::CommandKind) -> bool {
        kind.writes_at_once()
    }

    fn tick() -> Input {
        Input::Tick
    }

    fn deleted() -> Input {
        Input::Deleted
    }

    fn command_failed(command: crate::CommandKind, reason: String, message: String) -> Input {
        Input::CommandFailed {
            command,
            reason,
            message,
        }
    }
}
