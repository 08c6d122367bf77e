//! Metadata every object rayop builds carries: name, namespace, labels and the
//! controller owner reference to its RayCluster.
//!
//! Invariants:
//! - Object labels are [`names::pod_labels`] minus `ray.io/is-ray-node`
//!   (which marks pods, not the objects that make them): the cluster, node
//!   type, group, `app.kubernetes.io/name` and `app.kubernetes.io/created-by`.
//! - Exactly one owner reference, to `ray.io/v1` `RayCluster` with the
//!   cluster's name and UID, `controller: true` and `blockOwnerDeletion: true`,
//!   so the garbage collector removes every object when the cluster goes.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::{
    build::ClusterContext,
    crd::names::{self, RayNode},
};

/// `apiVersion` of the owner reference: the storage version, whichever
/// version the cluster was written in.
pub const OWNER_API_VERSION: &str = "ray.io/v1";
/// `kind` of the owner reference, which with [`OWNER_API_VERSION`] and the
/// cluster's name and UID identifies the RayCluster to the garbage collector.
pub const OWNER_KIND: &str = "RayCluster";

/// The controller owner reference to the cluster.
#[must_use]
pub fn owner_reference(ctx: &ClusterContext<'_>) -> OwnerReference {
    OwnerReference {
        api_version: OWNER_API_VERSION.to_owned(),
        kind: OWNER_KIND.to_owned(),
        name: ctx.name.to_owned(),
        uid: ctx.uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The labels of an object (not a pod) that belongs to `node`.
#[must_use]
pub fn object_labels(ctx: &ClusterContext<'_>, node: RayNode<'_>) -> BTreeMap<String, String> {
    let mut labels = names::pod_labels(ctx.name, node);
    labels.remove(names::LABEL_IS_RAY_NODE);
    labels
}

/// Metadata of the object `name` that belongs to `node`.
#[must_use]
pub fn object_meta(ctx: &ClusterContext<'_>, name: String, node: RayNode<'_>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(ctx.namespace.to_owned()),
        labels: Some(object_labels(ctx, node)),
        owner_references: Some(vec![owner_reference(ctx)]),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build::BuildOptions, crd::RayCluster};

    #[test]
    fn meta_is_owned_namespaced_and_labelled() {
        let cluster = RayCluster::test("rc");
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let meta = object_meta(&ctx, "rc-gpu".into(), RayNode::Worker("gpu"));
        assert_eq!(meta.name.as_deref(), Some("rc-gpu"));
        assert_eq!(meta.namespace.as_deref(), Some("default"));
        let labels = meta.labels.unwrap();
        assert_eq!(labels["ray.io/cluster"], "rc");
        assert_eq!(labels["ray.io/node-type"], "worker");
        assert_eq!(labels["ray.io/group"], "gpu");
        assert_eq!(labels["app.kubernetes.io/name"], "kuberay");
        assert_eq!(labels["app.kubernetes.io/created-by"], "rayop");
        assert!(!labels.contains_key("ray.io/is-ray-node"));
        let owners = meta.owner_references.unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].api_version, "ray.io/v1");
        assert_eq!(owners[0].kind, "RayCluster");
        assert_eq!(owners[0].name, "rc");
        assert_eq!(owners[0].uid, "uid-rc");
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(owners[0].block_owner_deletion, Some(true));
    }
}
