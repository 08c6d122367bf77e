//! The two served versions of the RayCluster API and the merged CRD.
//!
//! Role: `ray.io/v1` ([`RayCluster`], the storage
//! version, the type the operator uses) and `ray.io/v1alpha1`
//! ([`v1alpha1::RayCluster`], served for older manifests such as the seed).
//!
//! Invariants:
//! - Both versions have the same schema, printer columns and status
//!   subresource: `v1alpha1`'s spec is a transparent newtype over the v1 spec
//!   and shares the status type. A test compares the two generated versions.
//! - Conversion is the identity on spec and status (the `From` impls below),
//!   so the CRD declares conversion strategy `None`: the API server only
//!   rewrites `apiVersion`, and no conversion webhook is needed. A future
//!   version whose schema differs will need a webhook.
//!
//! [`crd`] merges the two into the CustomResourceDefinition that `rayop crd`
//! prints and `deploy/crd/rayclusters.ray.io.yaml` holds.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray,
    JSONSchemaPropsOrBool,
};
use kube::core::crd::{CustomResourceExt, MergeError, merge_crds};
use thiserror::Error;

use crate::crd::spec::RayCluster;

/// The version the API server stores objects in; the conversion to and from
/// it is the identity (see the module docs).
pub const STORAGE_VERSION: &str = "v1";
/// Every served version, storage first.
pub const SERVED_VERSIONS: [&str; 2] = ["v1", "v1alpha1"];

/// `ray.io/v1alpha1`: the same API as v1, served for older manifests.
pub mod v1alpha1 {
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use crate::crd::{cel, status::RayClusterStatus};

    // The v1 spec, unchanged; `Deref` gives its fields. The doc comment below
    // is the schema's description and must stay the v1 spec's, word for word.
    /// A Ray cluster: one head pod and groups of worker pods, kept at the size the
    /// spec or the Ray autoscaler asks for.
    #[derive(
        CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema,
    )]
    #[kube(
        group = "ray.io",
        version = "v1alpha1",
        kind = "RayCluster",
        namespaced,
        storage = false,
        status = "RayClusterStatus",
        derive = "PartialEq",
        category = "all",
        doc = "A Ray cluster: one head pod and groups of worker pods, kept at the size the spec or the Ray autoscaler asks for.",
        printcolumn(name = "desired workers", type_ = "integer", json_path = ".status.desiredWorkerReplicas", description = "Worker pods wanted"),
        printcolumn(name = "available workers", type_ = "integer", json_path = ".status.availableWorkerReplicas", description = "Worker pods Running"),
        printcolumn(name = "cpus", type_ = "string", json_path = ".status.desiredCPU", description = "CPU the head and all workers ask for"),
        printcolumn(name = "memory", type_ = "string", json_path = ".status.desiredMemory", description = "Memory the head and all workers ask for"),
        printcolumn(name = "gpus", type_ = "string", json_path = ".status.desiredGPU", description = "GPUs the head and all workers ask for"),
        printcolumn(name = "tpus", type_ = "string", json_path = ".status.desiredTPU", description = "TPUs the head and all workers ask for", priority = 1),
        printcolumn(name = "status", type_ = "string", json_path = ".status.state", description = "KubeRay's state: ready or suspended"),
        printcolumn(name = "phase", type_ = "string", json_path = ".status.phase", description = "rayop's phase of the cluster"),
        printcolumn(name = "age", type_ = "date", json_path = ".metadata.creationTimestamp"),
        printcolumn(name = "head pod IP", type_ = "string", json_path = ".status.head.podIP", description = "IP of the head pod", priority = 1),
        printcolumn(name = "head service IP", type_ = "string", json_path = ".status.head.serviceIP", description = "IP of the head Service, or of the head pod when the Service is headless", priority = 1),
        validation = cel::CLUSTER_NAME_IS_DNS1035.to_rule(),
        validation = cel::CLUSTER_NAME_LENGTH.to_rule(),
        validation = cel::WORKER_NAME_LENGTH.to_rule()
    )]
    #[serde(transparent)]
    #[schemars(transparent)]
    pub struct RayClusterSpec(pub crate::crd::spec::RayClusterSpec);

    impl std::ops::Deref for RayClusterSpec {
        type Target = crate::crd::spec::RayClusterSpec;

        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }
}

impl From<v1alpha1::RayCluster> for RayCluster {
    fn from(old: v1alpha1::RayCluster) -> Self {
        Self {
            metadata: old.metadata,
            spec: old.spec.0,
            status: old.status,
        }
    }
}

impl From<RayCluster> for v1alpha1::RayCluster {
    fn from(new: RayCluster) -> Self {
        Self {
            metadata: new.metadata,
            spec: v1alpha1::RayClusterSpec(new.spec),
            status: new.status,
        }
    }
}

/// Why the CRD could not be built or printed.
#[derive(Debug, Error)]
pub enum CrdError {
    /// The per-version CRDs did not merge (they disagree on group, kind or scope).
    #[error("merging the CRD versions: {0}")]
    Merge(#[from] MergeError),
    /// The CRD did not serialize to YAML.
    #[error("writing the CRD as YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
}

/// The RayCluster CustomResourceDefinition: both versions, `v1` stored,
/// conversion strategy `None`.
///
/// # Errors
/// [`CrdError::Merge`] if the versions disagree on group, kind or scope.
pub fn crd() -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = merge_crds(
        vec![RayCluster::crd(), v1alpha1::RayCluster::crd()],
        STORAGE_VERSION,
    )?;
    finish(&mut crd);
    Ok(crd)
}

/// What every rayop CRD gets after kube generated it: `metadata.name`
/// declared at the root of each version's schema, int32 bounds on every
/// int32, and conversion strategy `None` (the versions share one schema).
pub(crate) fn finish(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        if let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            declare_metadata_name(root);
            bound_int32(root);
        }
    }
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "None".to_owned(),
        webhook: None,
    });
}

/// Declares `metadata.name` (a string) at the root of the schema, the one
/// metadata field a CRD schema may describe, so the root CEL rules about the
/// name can report it as their field (`metadata.name: Invalid value: ...`).
fn declare_metadata_name(root: &mut JSONSchemaProps) {
    let name = JSONSchemaProps {
        type_: Some("string".to_owned()),
        ..JSONSchemaProps::default()
    };
    let metadata = JSONSchemaProps {
        type_: Some("object".to_owned()),
        properties: Some(BTreeMap::from([("name".to_owned(), name)])),
        ..JSONSchemaProps::default()
    };
    root.properties
        .get_or_insert_with(BTreeMap::new)
        .insert("metadata".to_owned(), metadata);
}

/// Gives every `format: int32` integer the bounds of an int32 where it has
/// none narrower. The API server does not enforce `format` on custom
/// resources, so without them `replicas: 99999999999` would be stored and
/// only fail when rayop decodes it; with them it is refused at admission
/// with a message naming the field.
fn bound_int32(schema: &mut JSONSchemaProps) {
    if schema.type_.as_deref() == Some("integer") && schema.format.as_deref() == Some("int32") {
        let (lowest, highest) = (f64::from(i32::MIN), f64::from(i32::MAX));
        schema.minimum = Some(schema.minimum.map_or(lowest, |m| m.max(lowest)));
        schema.maximum = Some(schema.maximum.map_or(highest, |m| m.min(highest)));
    }
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.all_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.one_of.iter_mut().flatten());
    for child in children {
        bound_int32(child);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        bound_int32(items);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        bound_int32(extra);
    }
}

/// [`crd`] as YAML, exactly as `rayop crd` prints it.
///
/// # Errors
/// As [`crd`], or [`CrdError::Yaml`].
pub fn crd_yaml() -> Result<String, CrdError> {
    Ok(serde_yaml::to_string(&crd()?)?)
}
