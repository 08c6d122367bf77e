//! [`ClusterMachine`]: the one entry point the operator and the journal use.
//!
//! It wraps the statig machine, collects each step's outputs, and snapshots to
//! and restores from serde. A restored machine behaves exactly like the one
//! that was snapshotted (see the invariants in [`crate::machine`]).

use serde::{Deserialize, Serialize};
use statig::prelude::*;

use crate::{
    Command, Event, Millis, Phase,
    machine::{Cluster, Outbox, State, phase_of},
};

/// One RayCluster's machine.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClusterMachine {
    inner: StateMachine<Cluster>,
}

/// What one event did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The phase before the event.
    pub from: Phase,
    /// The phase after the event.
    pub to: Phase,
    /// The commands to perform, in order.
    pub commands: Vec<Command>,
}

impl Step {
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
        let mut outbox = Outbox {
            at: event.at,
            ..Outbox::default()
        };
        self.inner.handle_with_context(event, &mut outbox);
        Step {
            from,
            to: self.phase(),
            commands: outbox.commands,
        }
    }

    /// The earliest moment a timer of the machine expires, if any: the operator
    /// should observe again no later than this.
    #[must_use]
    pub fn next_wake(&self) -> Option<Millis> {
        let cluster = self.cluster();
        let mut wakes = Vec::new();
        if let Some(retry) = cluster.head_retry_at {
            wakes.push(retry);
        }
        match self.inner.state() {
            State::HeadStarting { since } | State::Recovering { lost_at: since }
                if !cluster.stuck_announced =>
            {
                wakes.push(since.plus(crate::backoff::STUCK_AFTER_MS));
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
