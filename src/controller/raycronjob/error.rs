//! Why a RayCronJob command failed: each variant names its step and maps to
//! the reason of the Warning the machine announces.

use crate::owned::create_once::CreateError;

/// Why a RayCronJob command failed.
#[derive(Debug, thiserror::Error)]
pub enum CronApplyError {
    /// The RayJob of a tick could not be built.
    #[error("build the RayJob: {0}")]
    Build(String),
    /// A create failed, or met a name taken by a RayJob this RayCronJob does
    /// not control.
    #[error(transparent)]
    Create(#[from] CreateError),
    /// The RayCronJob is gone.
    #[error("the RayCronJob is gone")]
    Gone,
}
