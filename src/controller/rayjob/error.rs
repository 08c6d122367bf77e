//! Why a RayJob command failed: each variant names the step, and maps to
//! the reason of the Warning and of the command's failure in status.

use crate::{
    build::rayjob::JobBuildError, dashboard::DashboardError, owned::create_once::CreateError,
};

/// Why a RayJob command failed.
#[derive(Debug, thiserror::Error)]
pub enum JobApplyError {
    /// The object could not be built from the spec.
    #[error("build: {0}")]
    Build(#[from] JobBuildError),
    /// The API server refused a request.
    #[error("{step} {kind} {name}: {source}")]
    Api {
        /// What was attempted (`create`, `delete`, `patch`).
        step: &'static str,
        /// The object's kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// A create failed, or met a name taken by an object this RayJob does
    /// not control.
    #[error(transparent)]
    Create(#[from] CreateError),
    /// The dashboard failed.
    #[error("dashboard: {0}")]
    Dashboard(#[from] DashboardError),
    /// The submission could not be encoded for the dashboard.
    #[error("encode the submission: {0}")]
    Encode(String),
    /// The attempt's cluster is not there to talk to.
    #[error("the RayCluster {0} is not there")]
    NoCluster(String),
}
