//! Why leader election could not run.

use thiserror::Error;

/// A leader-election failure.
#[derive(Debug, Error)]
pub enum LeaderError {
    /// The configured timings cannot work.
    #[error("leader election timings: {0}")]
    Timings(&'static str),
    /// The API server refused or failed a Lease request.
    #[error("{verb} Lease {namespace}/{name}: {source}")]
    Api {
        /// get, create or update.
        verb: &'static str,
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
}
