//! rayop: a Kubernetes operator for Ray clusters.
//!
//! The library holds everything the `rayop` binary runs; each module's docs
//! state its role and invariants.

pub mod apply;
pub mod build;
pub mod cli;
pub mod client;
pub mod controller;
pub mod crd;
pub mod dashboard;
pub mod decide;
pub mod desired;
pub mod health;
pub mod interpret;
pub mod journal_view;
pub mod journaling;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod owned;
pub mod record;
pub mod server;
pub mod status;
