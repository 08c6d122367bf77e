//! A client for the Ray dashboard: its Jobs API (`/api/jobs/`), for the
//! RayJob controller (submit a job under a chosen id, poll its status,
//! stop it, delete it, read its log), and its Serve API
//! (`/api/serve/applications/`), for the RayService controller (read the
//! applications' status, deploy a config), plus the Serve proxy's health
//! check on a pod.
//!
//! Role: [`JobsApi`] and [`ServeApi`] are the controllers' view of a
//! dashboard; [`DashboardClient`] implements both over a [`Transport`]:
//! direct HTTP to the head Service (operator in the cluster) or the API
//! server's service proxy (operator outside, like KubeRay's
//! `--use-kubernetes-proxy`). With token authentication, every dashboard
//! request carries the cluster's token ([`DashboardToken`]).
//! [`ServeConfig`] turns `serveConfigV2` into the deploy's JSON body.
//!
//! Invariants: the outcomes the controllers branch on are values, not
//! errors: a job Ray does not know is [`Lookup::NotFound`], a submit of an
//! id Ray already holds is [`SubmitOutcome::AlreadySubmitted`], a Serve
//! that never started has no applications, and a proxy that answers other
//! than 200 is [`ProxyHealth::Unhealthy`]; every [`DashboardError`] names
//! its call; requests are bounded by a timeout and only idempotent calls
//! are repeated (see [`client`]). The module holds no state between calls
//! and reads no Secret: the caller hands it the token.

pub mod auth;
#[cfg(test)]
mod canned_http;
pub mod client;
pub mod direct;
pub mod error;
pub mod jobs;
pub mod paths;
pub mod proxy;
pub mod reply;
pub mod serve;
pub mod serve_config;
pub mod serve_health;

pub use auth::{DashboardToken, RAY_AUTH_HEADER};
pub use client::{DashboardClient, JobsApi, Transport};
pub use direct::DirectTransport;
pub use error::DashboardError;
pub use jobs::{DriverInfo, JobInfo, JobStatus, JobType, Lookup, SubmitOutcome, SubmitRequest};
pub use proxy::ProxyTransport;
pub use serve::{
    ApplicationStatus, DeploymentStatus, ServeApi, ServeApplication, ServeApplications,
    ServeDeployment,
};
pub use serve_config::{ServeConfig, ServeConfigError, TargetCapacity};
pub use serve_health::{ProxyHealth, ServeProxyProbe};
