//! Build for RayCronJobs: pure functions from a RayCronJob and a tick (ms
//! since the epoch, as the RayCronJob machine's `CreateRayJob` carries it)
//! to the child RayJob, and from a RayCronJob and its children to what the
//! machine is fed.
//!
//! | Module | What it builds |
//! |---|---|
//! | [`child`] | the child RayJob of a tick, and its name |
//! | [`cron_spec`] | the spec and world summarized for `rayop_machines::raycronjob` |
//! | [`error`] | why a child cannot be built |
//!
//! Invariants: nothing here reads the API server, the clock or the
//! environment (the operator's zone is passed in); the child's name derives
//! from the RayCronJob's name and the tick alone, so replaying a create
//! meets the RayJob it made (`AlreadyExists`).

pub mod child;
pub mod cron_spec;
pub mod error;

pub use child::{child_name, child_rayjob};
pub use cron_spec::{child_tick, summarize, world};
pub use error::CronBuildError;
