//! The desired state of a RayService: `spec`, and the `ray.io/v1` resource
//! [`RayService`] derived from it.
//!
//! Role: KubeRay v1.7.0's RayService API with the same JSON names and schema
//! defaults, the deprecated fields included, so KubeRay's RayService
//! manifests apply unchanged and nothing is pruned.
//!
//! Invariants: `rayClusterConfig` is rayop's [`RayClusterSpec`], unchanged,
//! and is the template of every RayCluster the RayService creates; the schema
//! refuses at admission what KubeRay's controller would only mark
//! `ValidationFailed` later (see [`cel`]); the `v1alpha1` twin in
//! [`versions`](super::versions) shares this spec and must repeat any
//! `#[kube(...)]` change made here.

use k8s_openapi::api::core::v1::Service;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    cel, serve_service, status::RayServiceStatuses, upgrade_strategy::RayServiceUpgradeStrategy,
};
use crate::crd::{rayjob, spec::RayClusterSpec};

/// Seconds an old RayCluster is kept after the RayService stopped using it,
/// when `rayClusterDeletionDelaySeconds` is unset (KubeRay's constant).
pub const DEFAULT_RAY_CLUSTER_DELETION_DELAY_SECONDS: i32 = 60;

/// A Ray Serve application: the operator runs it on a RayCluster built from
/// `rayClusterConfig`, and rolls out cluster changes on a new cluster
/// without downtime.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ray.io",
    version = "v1",
    kind = "RayService",
    namespaced,
    status = "RayServiceStatuses",
    derive = "PartialEq",
    category = "all",
    doc = "A Ray Serve application: the operator runs it on a RayCluster built from rayClusterConfig, and rolls out cluster changes on a new cluster without downtime.",
    printcolumn(name = "service status", type_ = "string", json_path = ".status.serviceStatus", description = "Running when the Ready condition is True (deprecated)"),
    printcolumn(name = "num serve endpoints", type_ = "string", json_path = ".status.numServeEndpoints", description = "Ray pods ready behind the serve Service"),
    validation = cel::SERVICE_NAME_IS_DNS1035.to_rule(),
    validation = cel::SERVICE_NAME_LENGTH.to_rule(),
    validation = cel::GROUP_NAMES_FIT.to_rule()
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::spec_rules)]
pub struct RayServiceSpec {
    /// Seconds a RayCluster the RayService no longer uses (the old cluster
    /// after an upgrade) is kept before it is deleted, so requests in flight
    /// can finish. Unset: 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ray_cluster_deletion_delay_seconds: Option<i32>,

    /// Deprecated and ignored (KubeRay issue 1685); kept so that older
    /// manifests apply unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_unhealthy_second_threshold: Option<i32>,

    /// Deprecated and ignored (KubeRay issue 1685); kept so that older
    /// manifests apply unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_unhealthy_second_threshold: Option<i32>,

    /// A full Service used as the base of the serve Service
    /// (`<name>-serve-svc`), which selects the Ray pods whose Serve proxy is
    /// healthy: its metadata and spec (type, ports by name) are kept, the
    /// operator sets the selector. Ignored by the incremental upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "serve_service::schema")]
    pub serve_service: Option<Service>,

    /// How a change of `rayClusterConfig` is rolled out. Unset: a new
    /// cluster takes over once it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_strategy: Option<RayServiceUpgradeStrategy>,

    /// The controller that manages this RayService: `ray.io/rayop`,
    /// `ray.io/kuberay-operator` or `kueue.x-k8s.io/multikueue`; any other
    /// controller leaves it alone. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63), transform = rayjob::cel::managed_by_rules)]
    pub managed_by: Option<String>,

    /// The Ray Serve applications to run, as Ray Serve's multi-application
    /// config in YAML (`applications:` with `name`, `import_path`,
    /// `route_prefix`, `runtime_env`, `deployments`, and optional
    /// `http_options`, `proxy_location` ...). Sent to the cluster's
    /// dashboard as is; a change alone is applied in place, without a new
    /// cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serve_config_v2: String,

    /// The RayCluster spec of every cluster the RayService creates.
    /// Changing anything but worker replicas (or appending worker groups)
    /// rolls out a new cluster, as `upgradeStrategy` says.
    pub ray_cluster_config: RayClusterSpec,

    /// Keeps the head pod out of the serve Service: its `ray.io/serve` label
    /// stays `false`, so only workers serve.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude_head_pod_from_serve_svc: bool,

    /// While true every object the RayService owns (clusters, Services) is
    /// deleted; setting it back to false creates them again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

impl RayServiceSpec {
    /// `rayClusterDeletionDelaySeconds`, or its default of 60.
    #[must_use]
    pub fn deletion_delay_seconds(&self) -> i32 {
        self.ray_cluster_deletion_delay_seconds
            .unwrap_or(DEFAULT_RAY_CLUSTER_DELETION_DELAY_SECONDS)
    }

    /// Whether `upgradeStrategy.type` is `NewClusterWithIncrementalUpgrade`.
    #[must_use]
    pub fn is_incremental(&self) -> bool {
        self.upgrade_strategy
            .as_ref()
            .is_some_and(RayServiceUpgradeStrategy::is_incremental)
    }

    /// Whether rayop reconciles this RayService: `managedBy` unset, rayop's
    /// or KubeRay's (rayop replaces KubeRay). MultiKueue's is left to it.
    #[must_use]
    pub fn managed_by_rayop(&self) -> bool {
        self.managed_by
            .as_deref()
            .is_none_or(|manager| crate::crd::spec::MANAGED_BY_RAYOP.contains(&manager))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::rayservice::upgrade_strategy::RayServiceUpgradeType;
    use serde_json::json;

    #[test]
    fn kuberay_field_names_round_trip() {
        let wire = json!({
            "rayClusterDeletionDelaySeconds": 120,
            "serviceUnhealthySecondThreshold": 900,
            "deploymentUnhealthySecondThreshold": 300,
            "serveService": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "custom-serve", "labels": {"a": "b"}}, "spec": {"type": "LoadBalancer"}},
            "upgradeStrategy": {"type": "NewCluster"},
            "managedBy": "kueue.x-k8s.io/multikueue",
            "serveConfigV2": "applications:\n  - name: app\n    import_path: m:app\n",
            "rayClusterConfig": {"rayVersion": "2.52.0", "workerGroupSpecs": [
                {"groupName": "small", "replicas": 1, "minReplicas": 1, "maxReplicas": 5, "numOfHosts": 1, "rayStartParams": {}}
            ]},
            "excludeHeadPodFromServeSvc": true,
            "suspend": true
        });
        let spec: RayServiceSpec = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(spec.deletion_delay_seconds(), 120);
        assert_eq!(
            spec.upgrade_strategy.as_ref().and_then(|u| u.type_),
            Some(RayServiceUpgradeType::NewCluster)
        );
        assert_eq!(
            spec.serve_service
                .as_ref()
                .and_then(|s| s.metadata.name.as_deref()),
            Some("custom-serve")
        );
        assert_eq!(
            spec.ray_cluster_config.worker_group_specs[0].group_name,
            "small"
        );
        assert!(!spec.managed_by_rayop());
        assert_eq!(serde_json::to_value(&spec).unwrap(), wire);
    }

    #[test]
    fn an_almost_empty_spec_takes_kuberays_defaults() {
        let spec: RayServiceSpec =
            serde_json::from_value(json!({"rayClusterConfig": {"rayVersion": "2.52.0"}})).unwrap();
        assert_eq!(spec.deletion_delay_seconds(), 60);
        assert!(!spec.is_incremental() && !spec.suspend && !spec.exclude_head_pod_from_serve_svc);
        assert!(spec.managed_by_rayop());
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"rayClusterConfig": {"rayVersion": "2.52.0", "workerGroupSpecs": []}})
        );
    }

    #[test]
    fn ray_cluster_config_is_required() {
        let err = serde_json::from_value::<RayServiceSpec>(json!({"serveConfigV2": ""}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rayClusterConfig"), "{err}");
    }
}
