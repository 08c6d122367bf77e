//! The pure, deterministic, journaled state machine of one RayService.
//!
//! Each RayService has one [`ServiceMachine`]. The operator summarizes the
//! spec and the world of one reconcile as [`ServiceInput::Observed`] (plus
//! `Tick`, `CommandFailed`, `Deleted`); the machine answers with a
//! [`crate::Step`] of [`ServicePhase`]s and [`ServiceCommand`]s, as data. It
//! implements [`crate::Machine`]. The moment of every input is the event's
//! `at`.
//!
//! Invariants (those of the crate): no I/O and no clock; deterministic;
//! serde all the way. Clusters are named by an index the machine hands out
//! and journals before any create (`<rayservice>-<index>`, rendered by the
//! operator), so a create is idempotent and a crash never orphans one. At
//! most one pending cluster exists; traffic only moves to a serving
//! cluster; an old cluster is deleted only once traffic left it and its
//! delay passed; a Serve config is submitted once per (cluster, config)
//! unless the cluster lost it.
//!
//! | Module | What it holds |
//! |---|---|
//! | [`machine`] | the statig machine and its storage |
//! | `roles` | active and pending: adoption, upgrade, in-place update, rollback |
//! | `serve` | head serve labels, config submissions |
//! | `traffic` | promotion, Services, incremental capacity and weights |
//! | `retire` | deletion after the delay, suspension |
//! | `converge` | one pass, in the fixed order of the commands |
//! | `publish` | the status summary |
//! | [`table`] | the transition table as data |
//!
//! # Decisions where rayop differs from KubeRay v1.7
//!
//! | KubeRay | rayop |
//! |---|---|
//! | The serve-config cache, the deletion deadlines and the last PUT live in memory: a restart re-PUTs and restarts every countdown | All are journaled: a restart neither resubmits nor delays a deletion. A machine without a journal adopts the cluster the head Service selects as active, and submits its config once. |
//! | Cluster names take 5 random characters; the pending name is persisted in status before the create | The index is journaled in the step that creates the cluster; no randomness, replay gives the same names. |
//! | A head restart without GCS FT is noticed by an empty app list and re-PUT on every such pass (#375, PR #1420) | Resubmitted once per loss: only when the cluster had reported applications, or its head went down, since the last submission. |
//! | Traffic could switch to a cluster whose Serve had not started (#1559) | A cluster serves only with a ready head and at least one application, all `RUNNING`; `PointServices` and rising route weights require it. |
//! | Reverting the spec to the active cluster's during a blue/green upgrade builds yet another cluster | It cancels the upgrade: the pending cluster, which never had traffic, is deleted at once. A third spec replaces the pending cluster (at most one pending ever). |
//! | A fixed 60 s deletion cut long requests (#3602); deadlines not persisted | `rayClusterDeletionDelaySeconds` from the moment a cluster is retired, journaled; a cluster that never had traffic is deleted at once; none is deleted while a Service selects it or the route weighs it. |
//! | A missing head pod aborts every pass and freezes status (#4686, #5088) | Nothing aborts: status says the active cluster does not serve (Event `ActiveClusterUnhealthy`), traffic stays on it until a healthy cluster serves; the other decisions go on. |
//! | A deleted active RayCluster makes the state "Fresh" and prepares a new pending cluster | The cluster is created again under its own name and its config resubmitted. |
//! | Incremental rollback lowers capacities step by step and can PUT a third spec after a restart (#4717) | Rollback raises the active capacity to 100 at once, then returns weight by `stepSizePercent` each interval; a third spec during an incremental upgrade rolls back first, then upgrades. |
//! | `InitializingTimeout` | Not implemented in the machine (a later change may add a timer). |
//!
//! `Deleted` is the machine's own terminal state, never published.
//!
//! # Transition table
//!
#![doc = include_str!("../../RAYSERVICE_TRANSITIONS.md")]

mod app_status;
mod command;
mod converge;
mod driver;
mod input;
pub mod machine;
mod phase;
mod publish;
mod retire;
mod roles;
mod serve;
mod status;
pub mod table;
mod traffic;

pub use command::{ServiceCommand, ServiceCommandKind};
pub use driver::ServiceMachine;
pub use input::{
    AppStatus, ClusterView, IncrementalOptions, RouteView, ServeView, ServiceInput, ServiceSpec,
    ServiceWorld, Strategy,
};
pub use machine::ServiceEvent;
pub use phase::ServicePhase;
pub use status::{ClusterStatus, ReadyReason, ServiceStatusSummary, Suspension, UpgradeReason};
