//! A Serve application's status: a leaf both the machine's input and its
//! status summary name, so neither has to import the other.

use serde::{Deserialize, Serialize};

/// A Serve application's status, as Ray Serve reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AppStatus {
    /// `NOT_STARTED`.
    NotStarted,
    /// `DEPLOYING`.
    Deploying,
    /// `RUNNING`.
    Running,
    /// `DEPLOY_FAILED`.
    DeployFailed,
    /// `DELETING`.
    Deleting,
    /// `UNHEALTHY`.
    Unhealthy,
    /// A value this version does not know, verbatim.
    Other(String),
}
