//! Why a RayCluster cannot be built into objects.
//!
//! Role: the one error type of the build step. Each variant names what to fix;
//! most are also caught earlier by [`validate`](crate::crd::validation::validate)
//! (the build never trusts that it ran), the rest come from fields the CRD's
//! open pod-template schema does not check, such as resource quantities.

use thiserror::Error;

/// A reason the build step cannot produce the cluster's objects.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BuildError {
    /// The RayCluster has no (or an empty) `metadata.name`, which every
    /// derived name starts with.
    #[error("the RayCluster has no metadata.name")]
    MissingName,
    /// The RayCluster has no (or an empty) `metadata.namespace`, where its
    /// objects would go.
    #[error("the RayCluster has no metadata.namespace")]
    MissingNamespace,
    /// The RayCluster has no `metadata.uid`, so no owner reference can point at it.
    #[error("the RayCluster has no metadata.uid; build objects from the stored object")]
    MissingUid,
    /// A pod template has no container to run Ray in.
    #[error("{group}: the pod template has no container to run Ray in")]
    NoContainer {
        /// `headgroup` or the worker group's name.
        group: String,
    },
    /// A `rayStartParams` key is not a flag name, so it cannot go on a command line.
    #[error(
        "{group}: rayStartParams key {key:?} is not a flag name (lower-case letters, digits and '-', without leading dashes)"
    )]
    UnsafeFlagName {
        /// `headgroup` or the worker group's name.
        group: String,
        /// The offending key.
        key: String,
    },
    /// A resource quantity of the Ray container does not parse.
    #[error(
        "{group}: resource {resource} has quantity {value:?}, which is not a Kubernetes quantity"
    )]
    InvalidQuantity {
        /// `headgroup` or the worker group's name.
        group: String,
        /// The resource name, such as `cpu` or `memory`.
        resource: String,
        /// The offending quantity.
        value: String,
    },
    /// A RayCluster label a batch scheduler reads has a value it cannot take.
    #[error("metadata.labels[{label}]: {value:?} is not {expected}")]
    InvalidLabel {
        /// The label's key.
        label: String,
        /// The offending value.
        value: String,
        /// What the value must be.
        expected: &'static str,
    },
}
