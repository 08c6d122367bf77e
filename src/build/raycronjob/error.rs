//! Why a RayCronJob's child RayJob cannot be built.
//!
//! Role: the one error type of [`super`]. Every message starts with the
//! field to fix, so the same text serves as a status message and as a
//! validation problem.

use thiserror::Error;

/// A reason the child RayJob of a tick cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CronBuildError {
    /// The RayCronJob has no (or an empty) `metadata.name`.
    #[error("metadata.name: the RayCronJob has no name")]
    MissingName,
    /// The RayCronJob has no (or an empty) `metadata.namespace`.
    #[error("metadata.namespace: the RayCronJob has no namespace")]
    MissingNamespace,
    /// The RayCronJob has no `metadata.uid`, so no owner reference can point at it.
    #[error("metadata.uid: the RayCronJob has no uid; build from the stored object")]
    MissingUid,
    /// The tick is not a moment Kubernetes can write (beyond year 9999).
    #[error("status.lastScheduleTime: the tick {0} ms is not a representable time")]
    Tick(u64),
}
