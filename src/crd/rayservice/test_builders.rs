//! Builders of RayServices for tests: `RayService::test("rs").with_workers(2)`.
//!
//! Role: short, readable fixtures for unit and integration tests, like the
//! RayCluster builders of [`crate::crd::test_builders`] (whose cluster
//! builders make `rayClusterConfig`). Always compiled, small and pure.
//! Every builder yields a RayService that
//! [`validate`](super::validation::validate) accepts unless the test changes
//! it on purpose.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    spec::{RayService, RayServiceSpec},
    upgrade_strategy::{
        ClusterUpgradeOptions, DEFAULT_MAX_SURGE_PERCENT, RayServiceUpgradeStrategy,
        RayServiceUpgradeType,
    },
    validation::INITIALIZING_TIMEOUT_ANNOTATION,
};
use crate::crd::{
    spec::{RayCluster, RayClusterSpec},
    test_builders::TEST_NAMESPACE,
};

/// `serveConfigV2` of every built RayService: one application, `test_app`,
/// with one deployment.
pub const TEST_SERVE_CONFIG: &str = "applications:
  - name: test_app
    import_path: test_module:app
    route_prefix: /
    deployments:
      - name: TestDeployment
        num_replicas: 1
";
/// `gatewayClassName` of [`RayService::with_incremental_upgrade`].
pub const TEST_GATEWAY_CLASS: &str = "test-gateway-class";

impl RayService {
    /// A RayService called `name` in [`TEST_NAMESPACE`], generation 1, with
    /// [`TEST_SERVE_CONFIG`] and a cluster of one worker
    /// (`RayCluster::test(name).with_workers(1)`'s spec).
    #[must_use]
    pub fn test(name: &str) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(TEST_NAMESPACE.to_owned()),
                generation: Some(1),
                uid: Some(format!("uid-{name}")),
                ..ObjectMeta::default()
            },
            spec: RayServiceSpec {
                serve_config_v2: TEST_SERVE_CONFIG.to_owned(),
                ray_cluster_config: RayCluster::test(name).with_workers(1).spec,
                ..RayServiceSpec::default()
            },
            status: None,
        }
    }

    /// Replaces `rayClusterConfig`.
    #[must_use]
    pub fn with_cluster(mut self, spec: RayClusterSpec) -> Self {
        self.spec.ray_cluster_config = spec;
        self
    }

    /// Sets the replicas of the cluster's test group, adding it if missing.
    #[must_use]
    pub fn with_workers(mut self, replicas: i32) -> Self {
        let cluster = RayCluster {
            metadata: ObjectMeta::default(),
            spec: self.spec.ray_cluster_config,
            status: None,
        };
        self.spec.ray_cluster_config = cluster.with_workers(replicas).spec;
        self
    }

    /// Sets `serveConfigV2`.
    #[must_use]
    pub fn with_serve_config(mut self, config: &str) -> Self {
        config.clone_into(&mut self.spec.serve_config_v2);
        self
    }

    /// Sets `upgradeStrategy.type`, keeping any options.
    #[must_use]
    pub fn with_upgrade_type(mut self, kind: RayServiceUpgradeType) -> Self {
        self.spec
            .upgrade_strategy
            .get_or_insert_with(RayServiceUpgradeStrategy::default)
            .type_ = Some(kind);
        self
    }

    /// The incremental upgrade moving `step` percent of the traffic every
    /// `interval` seconds (surge 100, [`TEST_GATEWAY_CLASS`]), with the
    /// in-tree autoscaling it needs.
    #[must_use]
    pub fn with_incremental_upgrade(mut self, step: i32, interval: i32) -> Self {
        self.spec.upgrade_strategy = Some(RayServiceUpgradeStrategy {
            type_: Some(RayServiceUpgradeType::NewClusterWithIncrementalUpgrade),
            cluster_upgrade_options: Some(ClusterUpgradeOptions {
                max_surge_percent: DEFAULT_MAX_SURGE_PERCENT,
                step_size_percent: step,
                interval_seconds: interval,
                gateway_class_name: TEST_GATEWAY_CLASS.to_owned(),
            }),
        });
        self.spec.ray_cluster_config.enable_in_tree_autoscaling = Some(true);
        self
    }

    /// Sets `suspend`.
    #[must_use]
    pub fn with_suspend(mut self, suspend: bool) -> Self {
        self.spec.suspend = suspend;
        self
    }

    /// Sets `rayClusterDeletionDelaySeconds`.
    #[must_use]
    pub fn with_deletion_delay(mut self, seconds: i32) -> Self {
        self.spec.ray_cluster_deletion_delay_seconds = Some(seconds);
        self
    }

    /// Sets the `ray.io/initializing-timeout` annotation (`30m`, `300`).
    #[must_use]
    pub fn with_initializing_timeout(mut self, timeout: &str) -> Self {
        self.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(
                INITIALIZING_TIMEOUT_ANNOTATION.to_owned(),
                timeout.to_owned(),
            );
        self
    }

    /// Sets `metadata.generation`, as the API server bumps it on a spec change.
    #[must_use]
    pub fn with_generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::rayservice::validate;
    use kube::ResourceExt;

    #[test]
    fn builders_compose_into_valid_services() {
        let svc = RayService::test("rs")
            .with_workers(3)
            .with_incremental_upgrade(10, 30)
            .with_deletion_delay(5)
            .with_initializing_timeout("10m")
            .with_generation(2);
        assert_eq!(svc.name_any(), "rs");
        assert_eq!(svc.spec.ray_cluster_config.worker_group_specs.len(), 1);
        assert_eq!(
            svc.spec.ray_cluster_config.worker_group_specs[0].replicas,
            3
        );
        assert!(svc.spec.is_incremental());
        assert_eq!(svc.spec.deletion_delay_seconds(), 5);
        assert_eq!(validate(&svc), Ok(()));
        let plain = RayService::test("rs")
            .with_upgrade_type(RayServiceUpgradeType::None)
            .with_suspend(true)
            .with_serve_config("applications: []\n");
        assert_eq!(validate(&plain), Ok(()));
        assert!(!plain.spec.is_incremental());
    }

    #[test]
    fn a_builder_can_break_a_rule_on_purpose() {
        let svc = RayService::test("rs").with_initializing_timeout("0");
        assert!(validate(&svc).is_err());
    }
}
