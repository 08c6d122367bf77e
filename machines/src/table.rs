//! The transition table: state × event → state + commands, as data.
//!
//! [`TABLE`] is the single source of the table in the crate docs, the README and
//! the Mermaid diagram ([`markdown`], [`mermaid`]); a test walks every edge
//! through the real machine and checks the target phase and the command kinds,
//! so the table cannot drift from the code.

use crate::{CommandKind, Phase};

/// One edge of the machine; [`TABLE`] lists them and a test walks each one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// A stable identifier, used by the test that walks the edge.
    pub id: &'static str,
    /// The phases this edge leaves from.
    pub from: &'static [Phase],
    /// The event and its guard, in words, e.g. `Observed: spec invalid`.
    pub on: &'static str,
    /// The phase this edge enters; equal to a `from` phase for a self-loop.
    pub to: Phase,
    /// The kinds of command the edge emits, in first-emission order.
    pub commands: &'static [CommandKind],
}

use CommandKind::{Announce, DeletePods, EnsureGroup, EnsureHead, Forget, PublishStatus, WakeAt};
use Phase::{Deleted, HeadStarting, Pending, Ready, Recovering, Scaling, Suspended};

const LIVE: &[Phase] = &[Pending, HeadStarting, Scaling, Ready, Recovering, Suspended];
const RUNNING: &[Phase] = &[HeadStarting, Scaling, Ready, Recovering];

/// Every edge of the machine; the README's table and diagram are generated from it.
pub const TABLE: &[Edge] = &[
    Edge {
        id: "pending-invalid",
        from: &[Pending],
        on: "Observed: spec invalid",
        to: Pending,
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "pending-start",
        from: &[Pending],
        on: "Observed: spec valid, head not serving",
        to: HeadStarting,
        commands: &[EnsureHead, EnsureGroup, Announce, PublishStatus, WakeAt],
    },
    Edge {
        id: "pending-adopt-scaling",
        from: &[Pending],
        on: "Observed: head serving, workers not at desired count",
        to: Scaling,
        commands: &[EnsureGroup, Announce, PublishStatus],
    },
    Edge {
        id: "pending-adopt-ready",
        from: &[Pending],
        on: "Observed: everything already converged",
        to: Ready,
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "suspend",
        from: &[Pending, HeadStarting, Scaling, Ready, Recovering],
        on: "Observed: spec.suspend",
        to: Suspended,
        commands: &[EnsureHead, EnsureGroup, Announce, PublishStatus],
    },
    Edge {
        id: "head-ready",
        from: &[HeadStarting],
        on: "Observed: head serving (workers Ready or not)",
        to: Scaling,
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "head-failed-retry",
        from: &[HeadStarting, Recovering],
        on: "Observed: head pod Failed/Succeeded, backoff elapsed",
        to: Phase::Deleted, // placeholder replaced by `to_for`: stays in its phase
        commands: &[DeletePods, Announce, PublishStatus, WakeAt],
    },
    Edge {
        id: "head-stuck",
        from: &[HeadStarting, Recovering],
        on: "Tick (or any event) once the head is not Ready for the stuck window (5 min)",
        to: Phase::Deleted, // stays in its phase
        commands: &[Announce],
    },
    Edge {
        id: "scaled",
        from: &[Scaling],
        on: "Observed: everything converged",
        to: Ready,
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "head-lost",
        from: &[Scaling, Ready],
        on: "Observed: serving head gone, not Ready, replaced or restarted",
        to: Recovering,
        commands: &[Announce, PublishStatus, WakeAt],
    },
    Edge {
        id: "spec-changed",
        from: &[Ready],
        on: "Observed: replicas or template changed",
        to: Scaling,
        commands: &[EnsureGroup, Announce, PublishStatus],
    },
    Edge {
        id: "worker-lost",
        from: &[Ready],
        on: "Observed: a worker pod missing or not Ready",
        to: Scaling,
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "steady",
        from: &[Ready],
        on: "Observed: nothing changed",
        to: Ready,
        commands: &[],
    },
    Edge {
        id: "head-back-restart-workers",
        from: &[Recovering],
        on: "Observed: head serving again, no GCS fault tolerance",
        to: Scaling,
        commands: &[DeletePods, Announce, PublishStatus],
    },
    Edge {
        id: "head-back-ft",
        from: &[Recovering],
        on: "Observed: head serving again with GCS fault tolerance, converged",
        to: Ready,
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "resume",
        from: &[Suspended],
        on: "Observed: spec.suspend cleared",
        to: HeadStarting,
        commands: &[EnsureHead, EnsureGroup, Announce, PublishStatus, WakeAt],
    },
    Edge {
        id: "became-invalid",
        from: RUNNING,
        on: "Observed: spec invalid",
        to: Pending,
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "command-failed",
        from: RUNNING,
        on: "CommandFailed",
        to: Phase::Deleted, // stays in its phase
        commands: &[Announce, PublishStatus],
    },
    Edge {
        id: "deleted",
        from: LIVE,
        on: "Deleted",
        to: Deleted,
        commands: &[Forget],
    },
    Edge {
        id: "terminal",
        from: &[Deleted],
        on: "any event",
        to: Deleted,
        commands: &[],
    },
];

impl Edge {
    /// Whether the edge keeps the machine in the phase it left from.
    #[must_use]
    pub fn is_self_loop(&self) -> bool {
        matches!(
            self.id,
            "head-failed-retry" | "head-stuck" | "command-failed"
        )
    }

    /// The phase the edge enters when it leaves from `from`.
    #[must_use]
    pub fn to_for(&self, from: Phase) -> Phase {
        if self.is_self_loop() { from } else { self.to }
    }
}

fn from_list(edge: &Edge) -> String {
    if edge.from == LIVE {
        return "any but Deleted".into();
    }
    edge.from
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table as Markdown, one row per edge, `(same)` for a self-loop: the README's table.
#[must_use]
pub fn markdown() -> String {
    let mut out = String::from("| From | Event | To | Commands |\n|---|---|---|---|\n");
    for edge in TABLE {
        let to = if edge.is_self_loop() {
            "(same)".to_owned()
        } else {
            edge.to.to_string()
        };
        let commands: Vec<&str> = edge.commands.iter().map(|c| c.as_str()).collect();
        out.push_str(&markdown_row(&from_list(edge), edge.on, &to, &commands));
    }
    out
}

/// Where a row of a kind's table leads (the RayJob's, the RayCronJob's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<P> {
    /// It stays in the phase it left.
    Same,
    /// It enters this phase.
    To(P),
}

/// One row of a kind's transition table: phases `P`, command kinds `K`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindEdge<P: 'static, K: 'static> {
    /// A stable identifier, used by the test that walks the row.
    pub id: &'static str,
    /// The phases it leaves from.
    pub from: &'static [P],
    /// The event and its guard, in words.
    pub on: &'static str,
    /// Where it leads.
    pub to: Target<P>,
    /// The command kinds it emits, in order.
    pub commands: &'static [K],
}

impl<P: Copy, K> KindEdge<P, K> {
    /// The phase entered when leaving from `from`.
    #[must_use]
    pub fn to_for(&self, from: P) -> P {
        match self.to {
            Target::Same => from,
            Target::To(p) => p,
        }
    }
}

/// A kind's table as Markdown, one row per edge.
#[must_use]
pub fn kind_markdown<P, K>(table: &[KindEdge<P, K>]) -> String
where
    P: std::fmt::Display,
    K: std::fmt::Display,
{
    let mut out = String::from("| From | Event | To | Commands |\n|---|---|---|---|\n");
    for edge in table {
        let from = edge
            .from
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let to = match &edge.to {
            Target::Same => "(same)".to_owned(),
            Target::To(p) => p.to_string(),
        };
        let commands: Vec<String> = edge.commands.iter().map(ToString::to_string).collect();
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        out.push_str(&markdown_row(&from, edge.on, &to, &commands));
    }
    out
}

/// One row of a transition table in markdown, shared by every kind's table:
/// `| from | on | to | commands |`, with `none` for an edge without commands.
pub(crate) fn markdown_row(from: &str, on: &str, to: &str, commands: &[&str]) -> String {
    let commands = if commands.is_empty() {
        "none".to_owned()
    } else {
        commands.join(", ")
    };
    format!("| {from} | {on} | {to} | {commands} |\n")
}

/// The table as a Mermaid state diagram (self-loops and the terminal state's
/// ignoring of events left out, deletion drawn once).
#[must_use]
pub fn mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n    [*] --> Pending\n");
    for edge in TABLE {
        if edge.is_self_loop() || edge.id == "terminal" || edge.id == "steady" {
            continue;
        }
        if edge.id == "deleted" {
            out.push_str("    Deleted --> [*]\n    note right of Deleted: any live phase → Deleted on deletion\n");
            continue;
        }
        for from in edge.from {
            if *from == edge.to {
                continue;
            }
            out.push_str(&format!(
                "    {from} --> {} : {}\n",
                edge.to,
                edge.on.replace(':', " —")
            ));
        }
    }
    out
}
