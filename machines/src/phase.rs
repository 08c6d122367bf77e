//! The phases a RayCluster moves through.
//!
//! The five phases of the design (Pending, HeadStarting, Scaling, Ready,
//! Recovering) are joined by two that none of them can stand for:
//! - `Suspended`: the user set `spec.suspend`; every workload is held at zero
//!   replicas on purpose, which is neither progress (Scaling) nor a fault
//!   (Recovering).
//! - `Deleted`: the RayCluster is gone. The machine is terminal there and
//!   ignores every later event, so a late watch event can never recreate
//!   objects of a deleted cluster.

use serde::{Deserialize, Serialize};

/// The machine's state, as shown in `status.phase`.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum Phase {
    /// Nothing decided yet, or the spec is invalid (see the InvalidSpec condition).
    #[default]
    Pending,
    /// The head workload is applied and its pod is not Ready yet.
    HeadStarting,
    /// The head is Ready; worker groups or templates are converging.
    Scaling,
    /// The head and every worker group are at their desired state.
    Ready,
    /// A head that was Ready was lost; it is being brought back.
    Recovering,
    /// `spec.suspend` holds every workload at zero.
    Suspended,
    /// The RayCluster was deleted; terminal: every later event is ignored and nothing is recreated.
    Deleted,
}

impl Phase {
    /// Every phase in declaration order, Deleted last; e.g. to pre-create per-phase metrics.
    pub const ALL: [Phase; 7] = [
        Phase::Pending,
        Phase::HeadStarting,
        Phase::Scaling,
        Phase::Ready,
        Phase::Recovering,
        Phase::Suspended,
        Phase::Deleted,
    ];

    /// The phase's name as it appears in `status.phase`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::HeadStarting => "HeadStarting",
            Phase::Scaling => "Scaling",
            Phase::Ready => "Ready",
            Phase::Recovering => "Recovering",
            Phase::Suspended => "Suspended",
            Phase::Deleted => "Deleted",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
