//! A client for the Ray dashboard's Jobs API (`/api/jobs/`), for the
//! RayJob controller: submit a job under a chosen id, poll its status,
//! stop it, delete it, read its log.
//!
//! Role: [`JobsApi`] is the controller's view of a dashboard;
//! [`DashboardClient`] implements it over a [`Transport`]: direct HTTP to
//! the head Service (operator in the cluster) or the API server's service
//! proxy (operator outside, like KubeRay's `--use-kubernetes-proxy`). With
//! token authentication, every request carries the cluster's token
//! ([`DashboardToken`]).
//!
//! Invariants: the outcomes the controller branches on are values, not
//! errors: a job Ray does not know is [`Lookup::NotFound`], and a submit
//! of an id Ray already holds is [`SubmitOutcome::AlreadySubmitted`];
//! every [`DashboardError`] names its call; requests are bounded by a
//! timeout and only idempotent calls are repeated (see [`client`]).
//! The module holds no state between calls and reads no Secret: the
//! caller hands it the token.

pub mod auth;
pub mod client;
pub mod direct;
pub mod error;
pub mod jobs;
pub mod paths;
pub mod proxy;
pub mod reply;

pub use auth::{DashboardToken, RAY_AUTH_HEADER};
pub use client::{DashboardClient, JobsApi, Transport};
pub use direct::DirectTransport;
pub use error::DashboardError;
pub use jobs::{DriverInfo, JobInfo, JobStatus, JobType, Lookup, SubmitOutcome, SubmitRequest};
pub use proxy::ProxyTransport;
