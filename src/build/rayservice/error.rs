//! Why a RayService's children cannot be built.
//!
//! Role: the one error type of [`super`]. Every message starts with the
//! field to fix (a JSON path of the RayService), so the same text serves as a
//! status message and as a validation problem.

use thiserror::Error;

use crate::build::BuildError;

/// A reason a RayService's RayCluster, Services or hashes cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ServiceBuildError {
    /// The RayService has no (or an empty) `metadata.name`.
    #[error("metadata.name: the RayService has no name")]
    MissingName,
    /// The RayService has no (or an empty) `metadata.namespace`.
    #[error("metadata.namespace: the RayService has no namespace")]
    MissingNamespace,
    /// The RayService has no `metadata.uid`, so no owner reference can point
    /// at it.
    #[error("metadata.uid: the RayService has no uid; build from the stored object")]
    MissingUid,
    /// `rayClusterConfig` could not be written as JSON to be hashed.
    #[error("spec.rayClusterConfig: cannot be hashed: {0}")]
    Hash(String),
    /// The head template has no Ray container to read ports from.
    #[error("spec.rayClusterConfig.headGroupSpec: {0}")]
    Head(#[from] BuildError),
    /// No serve port on the head and no `serveService` to take ports from.
    #[error(
        "spec.rayClusterConfig.headGroupSpec.template: please specify a port named serve (or serve-<suffix>) on the head's Ray container, or give spec.serveService ports: the serve Service has none"
    )]
    NoServePort,
}
