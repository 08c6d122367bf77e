//! Why a RayJob's children cannot be built.
//!
//! Role: the one error type of [`super`]. Every message starts with the
//! field to fix (a JSON path of the RayJob, such as `spec.runtimeEnvYAML`),
//! so the same text serves as a status message and as a validation problem.

use thiserror::Error;

use crate::build::BuildError;

/// A reason a RayJob's RayCluster, submitter or submission cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum JobBuildError {
    /// The RayJob has no (or an empty) `metadata.name`.
    #[error("metadata.name: the RayJob has no name")]
    MissingName,
    /// The RayJob has no (or an empty) `metadata.namespace`.
    #[error("metadata.namespace: the RayJob has no namespace")]
    MissingNamespace,
    /// The RayJob has no `metadata.uid`, so no owner reference can point at it.
    #[error("metadata.uid: the RayJob has no uid; build from the stored object")]
    MissingUid,
    /// A RayCluster is to be built but `spec.rayClusterSpec` is unset.
    #[error("spec.rayClusterSpec: must be set for the RayJob to create its RayCluster")]
    NoClusterSpec,
    /// The job runs on the existing RayCluster `clusterSelector` names;
    /// rayop builds none.
    #[error(
        "spec.clusterSelector: the job runs on the existing RayCluster {0:?}; the RayJob creates no cluster"
    )]
    SelectedCluster(String),
    /// There is nothing to submit.
    #[error("spec.entrypoint: must not be empty: it is the command the Ray driver runs")]
    EmptyEntrypoint,
    /// InteractiveMode before the user set `spec.jobId`: no id to follow.
    #[error("spec.jobId: unset; in InteractiveMode the user sets it after submitting the job")]
    NoSubmissionId,
    /// `runtimeEnvYAML` is not a YAML mapping that converts to JSON.
    #[error("spec.runtimeEnvYAML: {0}")]
    RuntimeEnv(String),
    /// `entrypointResources` is not a JSON object of names to amounts.
    #[error("spec.entrypointResources: {0}")]
    EntrypointResources(String),
    /// `metadata` with a `rayVersion` older than 2.6.0, whose `ray job
    /// submit` has no `--metadata-json`.
    #[error("spec.metadata: needs rayClusterSpec.rayVersion 2.6.0 or later, not {0:?}")]
    MetadataNeedsNewerRay(String),
    /// Kubernetes token authentication leaves no token for the submitter.
    #[error(
        "spec.rayClusterSpec.authOptions.enableK8sTokenAuth: not supported for a RayJob: the submitter needs the shared token"
    )]
    K8sTokenAuth,
    /// The RayCluster (the attempt's, or the selected one) cannot be read
    /// as a cluster: no name, namespace, UID or head container.
    #[error("the RayCluster: {0}")]
    Cluster(#[from] BuildError),
}
