//! Default values of the RayCluster API.
//!
//! Role: the constants, the serde/schema default functions and the default
//! pod templates, as plain values. A leaf: it imports no other `crd` module,
//! so the type modules can name these functions in `#[serde(default = ...)]`
//! and the schema can embed the templates. Applying them to a spec is
//! [`effective`](crate::crd::effective)'s job.
//!
//! Chosen values:
//! - `rayVersion` [`DEFAULT_RAY_VERSION`]: a released Ray whose
//!   `rayproject/ray` image exists; the seed pins its own 2.6.0.
//! - image `rayproject/ray:<rayVersion>` for a Ray container without one;
//! - container names `ray-head` and `ray-worker`;
//! - resources, requests equal to limits: head 1 CPU / 2Gi, worker 1 CPU / 1Gi,
//!   autoscaler 500m / 512Mi (KubeRay's autoscaler default).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};

/// `rayVersion` the schema stores when a spec has none; a cluster keeps the
/// value stored at its creation across operator upgrades.
pub const DEFAULT_RAY_VERSION: &str = "2.46.0";
/// Repository of the image a Ray container without one gets, tagged with the
/// cluster's `rayVersion`.
pub const RAY_IMAGE_REPOSITORY: &str = "rayproject/ray";
/// Index of the container that runs Ray in every template.
pub const RAY_CONTAINER_INDEX: usize = 0;
/// Name of the Ray container in the default head template, and of a head Ray
/// container the user left unnamed.
pub const HEAD_CONTAINER_NAME: &str = "ray-head";
/// Name of the Ray container in the default worker template, and of a worker
/// Ray container the user left unnamed.
pub const WORKER_CONTAINER_NAME: &str = "ray-worker";
/// CPU request and limit of the default head template's Ray container.
pub const HEAD_CPU: &str = "1";
/// Memory request and limit of the default head template's Ray container.
pub const HEAD_MEMORY: &str = "2Gi";
/// CPU request and limit of the default worker template's Ray container.
pub const WORKER_CPU: &str = "1";
/// Memory request and limit of the default worker template's Ray container.
pub const WORKER_MEMORY: &str = "1Gi";
/// CPU request and limit of the autoscaler sidecar without
/// `autoscalerOptions.resources` (KubeRay's default).
pub const AUTOSCALER_CPU: &str = "500m";
/// Memory request and limit of the autoscaler sidecar without
/// `autoscalerOptions.resources` (KubeRay's default).
pub const AUTOSCALER_MEMORY: &str = "512Mi";
/// Seconds a worker may idle before the autoscaler removes it when neither
/// `idleTimeoutSeconds` nor `idleTimeoutMinutes` is set (the Ray autoscaler's
/// own default).
pub const AUTOSCALER_IDLE_TIMEOUT_SECONDS: i32 = 60;

/// Serde and schema default of `rayVersion`: [`DEFAULT_RAY_VERSION`].
#[must_use]
pub fn ray_version() -> String {
    DEFAULT_RAY_VERSION.to_owned()
}

/// Serde and schema default of a worker group's `replicas`: 0, as in KubeRay.
#[must_use]
pub fn replicas() -> i32 {
    0
}

/// Serde and schema default of a worker group's `minReplicas`: 0.
#[must_use]
pub fn min_replicas() -> i32 {
    0
}

/// Serde and schema default of a worker group's `maxReplicas`: `i32::MAX`,
/// no upper bound.
#[must_use]
pub fn max_replicas() -> i32 {
    i32::MAX
}

/// Serde and schema default of a worker group's `numOfHosts`: one pod per
/// replica.
#[must_use]
pub fn num_of_hosts() -> i32 {
    1
}

/// The Ray image of `ray_version`: `rayproject/ray:<ray_version>`.
#[must_use]
pub fn ray_image(ray_version: &str) -> String {
    format!("{RAY_IMAGE_REPOSITORY}:{ray_version}")
}

/// `cpu` and `memory` with requests equal to limits, so the scheduler
/// reserves exactly what the container may use.
fn guaranteed(cpu: &str, memory: &str) -> ResourceRequirements {
    let amounts = BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ]);
    ResourceRequirements {
        limits: Some(amounts.clone()),
        requests: Some(amounts),
        ..ResourceRequirements::default()
    }
}

fn ray_container(name: &str, resources: ResourceRequirements) -> Container {
    Container {
        name: name.to_owned(),
        resources: Some(resources),
        ..Container::default()
    }
}

fn one_container_template(container: Container) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: None,
        spec: Some(PodSpec {
            containers: vec![container],
            ..PodSpec::default()
        }),
    }
}

/// The Ray container of the default head template: `ray-head`, 1 CPU and
/// 2Gi, no image (the image follows `rayVersion`).
#[must_use]
pub fn head_container() -> Container {
    ray_container(HEAD_CONTAINER_NAME, guaranteed(HEAD_CPU, HEAD_MEMORY))
}

/// The Ray container of the default worker template: `ray-worker`, 1 CPU and
/// 1Gi, no image (the image follows `rayVersion`).
#[must_use]
pub fn worker_container() -> Container {
    ray_container(WORKER_CONTAINER_NAME, guaranteed(WORKER_CPU, WORKER_MEMORY))
}

/// The head template the schema stores when none is given: just
/// [`head_container`].
#[must_use]
pub fn default_head_template() -> PodTemplateSpec {
    one_container_template(head_container())
}

/// The worker template the schema stores when none is given: just
/// [`worker_container`].
#[must_use]
pub fn default_worker_template() -> PodTemplateSpec {
    one_container_template(worker_container())
}

/// The autoscaler sidecar's resources without `autoscalerOptions.resources`:
/// [`AUTOSCALER_CPU`] and [`AUTOSCALER_MEMORY`], requests equal to limits.
#[must_use]
pub fn autoscaler_resources() -> ResourceRequirements {
    guaranteed(AUTOSCALER_CPU, AUTOSCALER_MEMORY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_templates_have_one_guaranteed_ray_container_without_image() {
        for (template, name, memory) in [
            (default_head_template(), HEAD_CONTAINER_NAME, HEAD_MEMORY),
            (
                default_worker_template(),
                WORKER_CONTAINER_NAME,
                WORKER_MEMORY,
            ),
        ] {
            let containers = &template.spec.as_ref().unwrap().containers;
            assert_eq!(containers.len(), 1);
            let ray = &containers[RAY_CONTAINER_INDEX];
            assert_eq!(ray.name, name);
            assert_eq!(ray.image, None);
            let resources = ray.resources.as_ref().unwrap();
            assert_eq!(resources.limits, resources.requests);
            assert_eq!(resources.limits.as_ref().unwrap()["memory"].0, memory);
        }
    }
}
