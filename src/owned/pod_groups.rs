//! The two PodGroup kinds rayop creates for batch schedulers, as small typed
//! structs: k8s-openapi has no types for third-party CRDs.
//!
//! - [`VolcanoPodGroup`]: `scheduling.volcano.sh/v1beta1` `PodGroup`, for Volcano.
//! - [`SchedulerPluginsPodGroup`]: `scheduling.x-k8s.io/v1alpha1` `PodGroup`,
//!   for the coscheduling plugin of kubernetes-sigs/scheduler-plugins.
//!
//! Invariants: each struct carries only the fields rayop sets (server-side
//! apply then owns exactly those) and reads back; `status` belongs to the
//! scheduler and is neither written nor cached. `apiVersion` and `kind` are
//! always serialized, as a server-side apply body needs them.

use std::collections::BTreeMap;

use k8s_openapi::{
    NamespaceResourceScope, apimachinery::pkg::api::resource::Quantity,
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde::{Deserialize, Serialize};

/// Implements the k8s-openapi traits (and so kube's `Resource`) of a
/// namespaced custom resource type with `metadata`, `api_version` and `kind`.
macro_rules! custom_resource {
    ($ty:ident, group: $group:literal, version: $version:literal, kind: $kind:literal, plural: $plural:literal) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }

        impl $ty {
            /// An object of this kind with `metadata` and `spec`, its
            /// `apiVersion` and `kind` filled in.
            #[must_use]
            pub fn new(metadata: ObjectMeta, spec: <$ty as HasSpec>::Spec) -> Self {
                Self {
                    api_version: <$ty as k8s_openapi::Resource>::API_VERSION.to_owned(),
                    kind: <$ty as k8s_openapi::Resource>::KIND.to_owned(),
                    metadata,
                    spec,
                }
            }
        }
    };
}

/// A custom resource type's spec type.
pub trait HasSpec {
    /// The type of `spec`.
    type Spec;
}

/// `scheduling.volcano.sh/v1beta1` `PodGroup`: the gang Volcano schedules a
/// cluster's pods as.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolcanoPodGroup {
    /// `scheduling.volcano.sh/v1beta1`.
    pub api_version: String,
    /// `PodGroup`.
    pub kind: String,
    /// The object's metadata.
    pub metadata: ObjectMeta,
    /// What rayop asks of Volcano.
    #[serde(default)]
    pub spec: VolcanoPodGroupSpec,
}

impl HasSpec for VolcanoPodGroup {
    type Spec = VolcanoPodGroupSpec;
}

custom_resource!(VolcanoPodGroup, group: "scheduling.volcano.sh", version: "v1beta1", kind: "PodGroup", plural: "podgroups");

/// The spec fields of a Volcano PodGroup rayop sets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolcanoPodGroupSpec {
    /// Pods that must be schedulable together before any is bound.
    #[serde(default)]
    pub min_member: i32,
    /// Resources the whole gang needs before any pod is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_resources: Option<BTreeMap<String, Quantity>>,
    /// The Volcano Queue, from the cluster label `volcano.sh/queue-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The PriorityClass of the gang, from the label `ray.io/priority-class-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Network-topology-aware placement, from the `volcano.sh/network-topology-*` labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_topology: Option<VolcanoNetworkTopology>,
}

/// `spec.networkTopology` of a Volcano PodGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolcanoNetworkTopology {
    /// `hard` or `soft`, as the label says (Volcano validates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The highest network tier the gang may span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest_tier_allowed: Option<i32>,
}

/// `scheduling.x-k8s.io/v1alpha1` `PodGroup`: the gang of the
/// scheduler-plugins coscheduling plugin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerPluginsPodGroup {
    /// `scheduling.x-k8s.io/v1alpha1`.
    pub api_version: String,
    /// `PodGroup`.
    pub kind: String,
    /// The object's metadata.
    pub metadata: ObjectMeta,
    /// What rayop asks of the coscheduling plugin.
    #[serde(default)]
    pub spec: SchedulerPluginsPodGroupSpec,
}

impl HasSpec for SchedulerPluginsPodGroup {
    type Spec = SchedulerPluginsPodGroupSpec;
}

custom_resource!(SchedulerPluginsPodGroup, group: "scheduling.x-k8s.io", version: "v1alpha1", kind: "PodGroup", plural: "podgroups");

/// The spec fields of a scheduler-plugins PodGroup rayop sets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerPluginsPodGroupSpec {
    /// Pods that must be schedulable together before any is bound.
    #[serde(default)]
    pub min_member: i32,
    /// Resources the whole gang needs before any pod is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_resources: Option<BTreeMap<String, Quantity>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_objects_carry_their_type() {
        let pg = VolcanoPodGroup::new(ObjectMeta::default(), VolcanoPodGroupSpec::default());
        let json = serde_json::to_value(&pg).unwrap();
        assert_eq!(json["apiVersion"], "scheduling.volcano.sh/v1beta1");
        assert_eq!(json["kind"], "PodGroup");
        assert_eq!(json["spec"], serde_json::json!({"minMember": 0}));
        let pg = SchedulerPluginsPodGroup::new(
            ObjectMeta::default(),
            SchedulerPluginsPodGroupSpec::default(),
        );
        let json = serde_json::to_value(&pg).unwrap();
        assert_eq!(json["apiVersion"], "scheduling.x-k8s.io/v1alpha1");
    }

    #[test]
    fn unknown_fields_of_a_live_object_are_ignored() {
        let live: VolcanoPodGroup = serde_json::from_value(serde_json::json!({
            "apiVersion": "scheduling.volcano.sh/v1beta1",
            "kind": "PodGroup",
            "metadata": {"name": "ray-c-pg"},
            "spec": {"minMember": 3, "minTaskMember": {"a": 1}},
            "status": {"phase": "Running"},
        }))
        .unwrap();
        assert_eq!(live.spec.min_member, 3);
    }
}
