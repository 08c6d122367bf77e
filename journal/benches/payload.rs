//! A payload shaped like rayop's decision records (event, transition,
//! commands), shared by the benches.

use rayop_journal::Versioned;
use serde::{Deserialize, Serialize};

/// One journal record, about the size of the operator's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Record {
    /// An observation turned into an event.
    PodObserved {
        /// Pod name.
        name: String,
        /// Pod phase.
        phase: String,
        /// Ready workers seen.
        ready_workers: u32,
    },
    /// A phase change.
    Transition {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// Commands issued.
    Commands(Vec<Command>),
}

/// One command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Command {
    /// Write the status.
    UpdateStatus {
        /// New phase.
        phase: String,
        /// Ready workers.
        ready_workers: u32,
    },
}

impl Versioned for Record {
    const VERSION: u32 = 1;
}

/// The three records of one decision.
pub fn decision(n: u64) -> [Record; 3] {
    let ready = (n % 8) as u32;
    [
        Record::PodObserved {
            name: format!("raycluster-demo-worker-{:05x}", n % 0xfffff),
            phase: "Running".into(),
            ready_workers: ready,
        },
        Record::Transition {
            from: "Scaling".into(),
            to: "Ready".into(),
        },
        Record::Commands(vec![Command::UpdateStatus {
            phase: "Ready".into(),
            ready_workers: ready,
        }]),
    ]
}

/// A machine snapshot of a plausible size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MachineState {
    /// Current phase.
    pub phase: String,
    /// Desired workers per group.
    pub desired: Vec<u32>,
    /// Ready workers.
    pub ready: u32,
    /// Last applied seq.
    pub applied: u64,
}

impl Versioned for MachineState {
    const VERSION: u32 = 1;
}
