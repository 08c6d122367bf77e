//! The RayCronJob controller: for each RayCronJob, its machine
//! ([`rayop_machines::raycronjob`]) fed the spec, `status.lastScheduleTime`
//! and the ticks of the RayJobs it made; its commands (create the RayJob of
//! a tick, write `lastScheduleTime`, Events, timers) carried out by one
//! interpreter, journaled like every kind's.
//!
//! | Module | Step |
//! |---|---|
//! | [`caches`] | the RayJobs RayCronJobs made, and their triggers |
//! | [`reconcile`] | observe → decide → journal → apply → status |
//! | [`interpret`] | the commands, carried out |
//! | [`status`] | `status.lastScheduleTime`, written when it differs |
//! | [`deletion`] | a deleted RayCronJob's last step |
//! | [`context`] | what reconciles share, and each RayCronJob's memory |
//!
//! Invariants: the same turn as every kind ([`crate::controller::turn`]);
//! a RayCronJob creates RayJobs and writes its own status, nothing else.

pub mod caches;
pub mod context;
pub mod deletion;
pub mod error;
pub mod interpret;
pub mod reconcile;
pub mod status;
