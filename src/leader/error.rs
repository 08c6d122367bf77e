//! Why leader election could not run.
//!
//! Only [`LeaderError::Timings`] stops `rayop run`, at start; a failed Lease
//! request is logged and retried by the elector at the retry period, and a
//! leader whose renewals keep failing steps down at its renew deadline.

use thiserror::Error;

/// Why leader election could not run; a Lease API error is retried by the elector, not fatal.
#[derive(Debug, Error)]
pub enum LeaderError {
    /// The timings break `retry < renew_deadline < lease_duration` or use fractions of a second.
    #[error("leader election timings: {0}")]
    Timings(&'static str),
    /// The API server refused or failed a Lease request.
    #[error("{verb} Lease {namespace}/{name}: {source}")]
    Api {
        /// The Lease request that failed: `get`, `create` or `update`.
        verb: &'static str,
        /// The Lease's namespace, from [`super::LeaseConfig`].
        namespace: String,
        /// The Lease's name, from [`super::LeaseConfig`].
        name: String,
        /// The client's error, boxed to keep [`LeaderError`] small.
        #[source]
        source: Box<kube::Error>,
    },
}
