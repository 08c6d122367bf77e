//! The RayJob controller: for each RayJob, its machine
//! ([`rayop_machines::rayjob`]) fed the current attempt's RayCluster,
//! submitter and dashboard answer, its commands carried out by one
//! interpreter, its status written when it differs.
//!
//! | Module | Step |
//! |---|---|
//! | [`caches`] | the RayClusters and submitter Jobs RayJobs made, and their triggers |
//! | [`observe`] | the attempt's world, as the machine's input |
//! | [`reconcile`] | observe → decide → journal → apply → status |
//! | [`interpret`] | the commands, carried out |
//! | [`dashboard_access`] | reaching a cluster's dashboard, with its token |
//! | [`status`] | `status`, written when it differs |
//! | [`deletion`] | a deleted RayJob's last step |
//! | [`error`] | why a command failed |
//! | [`context`] | what reconciles share, and each RayJob's memory |
//!
//! Invariants: the same turn as RayClusters ([`crate::controller::turn`]):
//! every decision journaled before its commands run, a failed command fed
//! back once; nothing outside the RayJob's own objects is changed.

pub mod caches;
pub mod context;
pub mod dashboard_access;
pub mod deletion;
pub mod error;
pub mod interpret;
pub mod observe;
pub mod reconcile;
pub mod status;
