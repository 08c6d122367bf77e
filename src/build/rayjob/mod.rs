//! Build for RayJobs: pure functions from a RayJob and an attempt number
//! (from 1, as the RayJob machine's commands carry it) to what the
//! controller creates, submits and tells the machine.
//!
//! | Module | What it builds |
//! |---|---|
//! | [`names`] | the attempt's RayCluster name, submitter Job name and Ray submission id |
//! | [`job_meta`] | the owner reference to the RayJob and its origin labels |
//! | [`cluster`] | the attempt's RayCluster (with SidecarMode's submitter), and a cluster's dashboard `host:port` |
//! | [`submission`] | the job to submit, read once from the spec |
//! | [`submit_script`] | the `ray job submit` bash script |
//! | [`submitter_container`] | the `ray-job-submitter` container and its env |
//! | [`submitter_job`](mod@submitter_job) | K8sJobMode's `batch/v1` Job |
//! | [`http_submit`] | HTTPMode's `POST /api/jobs/` body |
//! | [`job_spec`] | the spec summarized for `rayop_machines::rayjob` |
//!
//! Invariants: nothing here reads the API server, the clock or the
//! environment; every name derives from the RayJob and the attempt, so
//! replaying a command rebuilds the same object. Errors are
//! [`JobBuildError`]s whose message starts with the field to fix.

pub mod cluster;
pub mod error;
pub mod http_submit;
pub mod job_meta;
pub mod job_spec;
pub mod names;
pub mod submission;
pub mod submit_script;
pub mod submitter_container;
pub mod submitter_job;

pub use cluster::{dashboard_address, ray_cluster};
pub use error::JobBuildError;
pub use job_meta::JobIdentity;
pub use job_spec::{JobSettings, summarize};
pub use submitter_job::submitter_job;
