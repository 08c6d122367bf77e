//! The RayCronJob API: `ray.io/v1` only, JSON-compatible with KubeRay v1.7.0.
//!
//! Role: a schedule that creates a RayJob from `jobTemplate` at each tick.
//! The types, the CRD and the pure rules; no controller acts on them yet.
//!
//! | Module | What it holds |
//! |---|---|
//! | [`spec`] | `RayCronJobSpec`, the [`RayCronJob`] resource, the CRD |
//! | [`status`] | `status.lastScheduleTime` |
//! | [`cel`] | the CRD's CEL rules |
//! | [`validation`] | `validate`, the Rust mirror of the rules plus the schedule's syntax |
//!
//! Invariants: as in KubeRay v1.7.0 there is no concurrency policy, starting
//! deadline or history limit; `jobTemplate` is the RayJob spec type, so it
//! carries the RayJob spec's schema rules.

pub mod cel;
pub mod spec;
pub mod status;
pub mod validation;

pub use spec::{RayCronJob, RayCronJobSpec, crd, crd_yaml};
pub use status::RayCronJobStatus;
pub use validation::validate;
