//! The pure, deterministic state machines of rayop: one RayCluster ([`ClusterMachine`]),
//! one RayJob ([`rayjob::JobMachine`]), one RayCronJob ([`raycronjob::CronMachine`])
//! and one RayService ([`rayservice::ServiceMachine`]).
//!
//! Each RayCluster the operator manages has one [`ClusterMachine`]. The operator
//! turns what it observes into [`Event`]s; the machine answers each with a
//! [`Step`]: its phase before and after, and the [`Command`]s to perform, as
//! data. The operator journals the step, then performs the commands.
//!
//! Invariants of this crate:
//! - **No I/O and no clock.** It depends on statig and serde, and for the
//!   RayCronJob schedule on croner and jiff with its time zone database
//!   bundled (never the host's). Time arrives inside events ([`Millis`]).
//! - **Deterministic.** The same snapshot fed the same events gives
//!   byte-identical states and commands, which is what lets a journal be replayed.
//! - **Level-triggered.** Commands close the gap between the spec and the
//!   current observation; a fresh machine fed one observation converges a live
//!   cluster without any history.
//! - **Serde all the way.** State, events and commands serialize, because the
//!   journal stores them.
//!
//! # Transition table
//!
#![doc = include_str!("../TRANSITIONS.md")]

mod assess;
pub mod backoff;
mod command;
mod contract;
mod driver;
mod event;
pub mod machine;
mod observation;
mod phase;
pub mod raycronjob;
pub mod rayjob;
pub mod rayservice;
mod spec;
pub mod status;
pub mod table;
mod time;
mod trouble;

pub use command::{Command, CommandKind, DeleteReason, Notice, ObjectName, Severity};
pub use contract::Machine;
pub use driver::{ClusterMachine, Step};
pub use event::{Event, Finalizing, Input, JobState};
pub use observation::{
    Applied, DriftedField, FailedCreate, GroupObservation, HeadObservation, Observation,
    PkiObservation, PodPhase, PodProblem, PodRef, PodView,
};
pub use phase::Phase;
pub use spec::{DesiredSpec, GroupSpec, Removal, SpecProblem};
pub use status::{Hold, HoldReason, StatusSummary};
pub use time::Millis;
pub use trouble::bounded;
