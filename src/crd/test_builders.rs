//! Builders of RayClusters for tests: `RayCluster::test("rc").with_workers(2)`.
//!
//! Role: short, readable fixtures for unit and integration tests across the
//! crate. Always compiled (they are small and pure) so integration tests and
//! other crates' tests can use them; production code has no reason to.
//! Every builder yields a spec that [`validate`](crate::crd::validation::validate)
//! accepts unless the test changes it on purpose.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::{
    gcs::GcsFaultToleranceOptions,
    spec::{RayCluster, RayClusterSpec},
    worker_group::{ScaleStrategy, WorkerGroupSpec, WorkloadKind},
};

/// Namespace of every built cluster, the one a manifest without a namespace
/// lands in.
pub const TEST_NAMESPACE: &str = "default";
/// Name of the group [`RayCluster::with_workers`] adds.
pub const TEST_GROUP: &str = "workers";

impl RayCluster {
    /// A cluster called `name` in [`TEST_NAMESPACE`], generation 1, with no
    /// worker group and every field at its default.
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
            spec: RayClusterSpec::default(),
            status: None,
        }
    }

    /// Sets the replicas of group [`TEST_GROUP`], adding it if missing.
    #[must_use]
    pub fn with_workers(mut self, replicas: i32) -> Self {
        match self
            .spec
            .worker_group_specs
            .iter_mut()
            .find(|g| g.group_name == TEST_GROUP)
        {
            Some(group) => group.replicas = replicas,
            None => self
                .spec
                .worker_group_specs
                .push(group(TEST_GROUP).with_replicas(replicas)),
        }
        self
    }

    /// Appends `group` after the existing groups; a repeated `groupName` makes
    /// a spec that `validate` refuses.
    #[must_use]
    pub fn with_group(mut self, group: WorkerGroupSpec) -> Self {
        self.spec.worker_group_specs.push(group);
        self
    }

    /// Sets `enableInTreeAutoscaling`: the head gets the autoscaler sidecar and
    /// groups without a `workloadKind` run as Deployments.
    #[must_use]
    pub fn with_autoscaling(mut self) -> Self {
        self.spec.enable_in_tree_autoscaling = Some(true);
        self
    }

    /// Configures GCS fault tolerance with a Redis at `address`.
    #[must_use]
    pub fn with_gcs_fault_tolerance(mut self, address: &str) -> Self {
        self.spec.gcs_fault_tolerance_options = Some(GcsFaultToleranceOptions {
            redis_address: address.to_owned(),
            ..GcsFaultToleranceOptions::default()
        });
        self
    }

    /// Sets `suspend`; `true` takes every workload to zero pods.
    #[must_use]
    pub fn with_suspend(mut self, suspend: bool) -> Self {
        self.spec.suspend = Some(suspend);
        self
    }

    /// Sets `rayVersion`, which picks the default image and the probe style.
    #[must_use]
    pub fn with_ray_version(mut self, version: &str) -> Self {
        version.clone_into(&mut self.spec.ray_version);
        self
    }

    /// Sets `metadata.generation`, as the API server bumps it on a spec change;
    /// the status reports it back as `observedGeneration`.
    #[must_use]
    pub fn with_generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }
}

/// A worker group called `name` with every field at its default.
#[must_use]
pub fn group(name: &str) -> WorkerGroupSpec {
    WorkerGroupSpec::new(name)
}

impl WorkerGroupSpec {
    /// Sets `replicas` as given, unclamped: clamping into the bounds is the
    /// operator's job.
    #[must_use]
    pub fn with_replicas(mut self, replicas: i32) -> Self {
        self.replicas = replicas;
        self
    }

    /// Sets `minReplicas` and `maxReplicas`; `min > max` makes a spec that
    /// `validate` refuses.
    #[must_use]
    pub fn bounds(mut self, min: i32, max: i32) -> Self {
        self.min_replicas = min;
        self.max_replicas = max;
        self
    }

    /// Sets `numOfHosts`, the pods per replica.
    #[must_use]
    pub fn with_hosts(mut self, hosts: i32) -> Self {
        self.num_of_hosts = hosts;
        self
    }

    /// Adds a `rayStartParams` entry: a `ray start` flag name without its
    /// dashes, and its value.
    #[must_use]
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.ray_start_params
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets `workloadKind`, overriding the default that follows autoscaling.
    #[must_use]
    pub fn with_kind(mut self, kind: WorkloadKind) -> Self {
        self.workload_kind = Some(kind);
        self
    }

    /// Names pods in `scaleStrategy.workersToDelete`.
    #[must_use]
    pub fn deleting(mut self, pods: &[&str]) -> Self {
        self.scale_strategy = Some(ScaleStrategy {
            workers_to_delete: pods.iter().map(|p| (*p).to_owned()).collect(),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::ResourceExt;

    #[test]
    fn builders_compose() {
        let cluster = RayCluster::test("rc")
            .with_workers(2)
            .with_workers(3)
            .with_group(
                group("gpu")
                    .bounds(0, 4)
                    .with_kind(WorkloadKind::Deployment),
            )
            .with_autoscaling();
        assert_eq!(cluster.name_any(), "rc");
        assert_eq!(cluster.spec.worker_group_specs.len(), 2);
        assert_eq!(cluster.spec.worker_group_specs[0].replicas, 3);
        assert!(cluster.spec.autoscaling_enabled());
    }
}
