//! What the operator's core needs of every kind's machine, so that the
//! journal bridge, replay and the decide → journal → apply loop are written
//! once for all kinds. [`crate::ClusterMachine`] is the first to implement it.
//!
//! Invariants every implementation keeps: `step` is pure and deterministic
//! (time only from the event); a snapshot restored with serde behaves like
//! the machine it was taken from; `resume` changes nothing.

use std::fmt::{Debug, Display};

use serde::{Serialize, de::DeserializeOwned};

use crate::{Event, Step};

/// A kind's pure, journaled state machine.
pub trait Machine:
    Clone + Default + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// What it is fed.
    type Input: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What it asks the interpreter to do.
    type Command: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// A command's kind without its data, for results, metrics and failures.
    type CommandKind: Label;
    /// The phase shown in status and in transitions.
    type Phase: Label;

    /// The schema version of its journal snapshots; raise it when the
    /// serialized machine changes incompatibly.
    const SNAPSHOT_VERSION: u32;

    /// Feeds one event and returns what it did.
    fn step(&mut self, event: &Event<Self::Input>) -> Step<Self::Phase, Self::Command>;
    /// The current phase.
    fn phase(&self) -> Self::Phase;
    /// What a restored machine asks of an interpreter whose memory is empty.
    fn resume(&self) -> Vec<Self::Command>;

    /// The kind of `command`.
    fn kind_of(command: &Self::Command) -> Self::CommandKind;
    /// Whether carrying out a command of `kind` writes to the API server at
    /// once (its results are then journaled).
    fn writes_at_once(kind: Self::CommandKind) -> bool;
    /// The input of a timer that came due.
    fn tick() -> Self::Input;
    /// The input of the reconciled object's deletion.
    fn deleted() -> Self::Input;
    /// The input that reports a failed command.
    fn command_failed(kind: Self::CommandKind, reason: String, message: String) -> Self::Input;
}

/// A small value shown in logs, metrics labels and journals: a phase, a
/// command's kind.
pub trait Label:
    Copy + Debug + Display + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<T> Label for T where
    T: Copy + Debug + Display + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
}
