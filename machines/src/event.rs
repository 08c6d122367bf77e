//! The machine's inputs.
//!
//! Every event carries the moment it happened ([`Event::at`]); the machine uses
//! no other notion of time.

use serde::{Deserialize, Serialize};

use crate::{CommandKind, DesiredSpec, Millis, Observation};

/// One input to a machine, at the moment it was observed. `I` is the
/// machine's input type; a cluster machine's by default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event<I = Input> {
    /// When the input was observed, as chosen by the caller.
    pub at: Millis,
    /// What was observed.
    pub input: I,
}

/// What was observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// The spec at its generation, and the live objects, read in one reconcile.
    Observed {
        /// The desired state.
        spec: DesiredSpec,
        /// The live state.
        world: Observation,
    },
    /// A timer set by an earlier `WakeAt` came due; timers are checked.
    /// (Every other event checks them too, before it is handled.)
    Tick,
    /// A command issued earlier failed against the API server.
    CommandFailed {
        /// The failed command's kind.
        command: CommandKind,
        /// A short CamelCase reason, for example `FailedApplyHead`.
        reason: String,
        /// The error as the API server reported it.
        message: String,
    },
    /// The RayCluster is being deleted.
    Deleted,
}

impl Input {
    /// A short name of the input's kind, used in tables and timelines.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Input::Observed { .. } => "Observed",
            Input::Tick => "Tick",
            Input::CommandFailed { .. } => "CommandFailed",
            Input::Deleted => "Deleted",
        }
    }
}
