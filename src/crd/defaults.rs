//! Defaults of the RayCluster API, and the effective values rayop builds from.
//!
//! Role: pure functions from a spec to what rayop runs, so that a spec as short
//! as the seed's works. No I/O.
//!
//! Two layers of defaults, with the same values:
//! - **Schema defaults** (`rayVersion`, `headGroupSpec: {}`, each `template`,
//!   `rayStartParams: {}`, the replica bounds) are stored by the API server at
//!   admission, so users, GitOps diffs and the Ray autoscaler (which reads
//!   group templates and `rayStartParams` from the RayCluster object) see them,
//!   and an operator upgrade never changes what an existing cluster runs.
//! - **Effective values** here fill in the same defaults for objects that lack
//!   them (built in code, or stored before a default existed), plus what a
//!   static schema default cannot express: the image follows `rayVersion`.
//!
//! Chosen values:
//! - `rayVersion` [`DEFAULT_RAY_VERSION`] (2.46.0): a released Ray whose
//!   `rayproject/ray` image exists; the seed pins its own 2.6.0.
//! - image `rayproject/ray:<rayVersion>` for a Ray container without one;
//! - container names `ray-head` and `ray-worker`;
//! - resources, requests equal to limits: head 1 CPU / 2Gi, worker 1 CPU / 1Gi,
//!   autoscaler 500m / 512Mi (KubeRay's autoscaler default).
//!
//! A user's template is authoritative: rayop only fills in the Ray container's
//! (the first container's) missing name and image, never its resources.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};

use crate::crd::{RayClusterSpec, head::ServiceType, worker_group::WorkerGroupSpec};

/// `rayVersion` when the spec has none.
pub const DEFAULT_RAY_VERSION: &str = "2.46.0";
/// Repository of the default Ray image.
pub const RAY_IMAGE_REPOSITORY: &str = "rayproject/ray";
/// Index of the container that runs Ray in every template.
pub const RAY_CONTAINER_INDEX: usize = 0;
/// Name of the default head container.
pub const HEAD_CONTAINER_NAME: &str = "ray-head";
/// Name of the default worker container.
pub const WORKER_CONTAINER_NAME: &str = "ray-worker";
/// CPU of the default head container.
pub const HEAD_CPU: &str = "1";
/// Memory of the default head container.
pub const HEAD_MEMORY: &str = "2Gi";
/// CPU of the default worker container.
pub const WORKER_CPU: &str = "1";
/// Memory of the default worker container.
pub const WORKER_MEMORY: &str = "1Gi";
/// CPU of the autoscaler container.
pub const AUTOSCALER_CPU: &str = "500m";
/// Memory of the autoscaler container.
pub const AUTOSCALER_MEMORY: &str = "512Mi";
/// The autoscaler's idle timeout when none is set.
pub const AUTOSCALER_IDLE_TIMEOUT_SECONDS: i32 = 60;

/// Default `rayVersion`.
#[must_use]
pub fn ray_version() -> String {
    DEFAULT_RAY_VERSION.to_owned()
}

/// Default `replicas` of a worker group.
#[must_use]
pub fn replicas() -> i32 {
    0
}

/// Default `minReplicas` of a worker group.
#[must_use]
pub fn min_replicas() -> i32 {
    0
}

/// Default `maxReplicas` of a worker group.
#[must_use]
pub fn max_replicas() -> i32 {
    i32::MAX
}

/// Default `numOfHosts` of a worker group.
#[must_use]
pub fn num_of_hosts() -> i32 {
    1
}

/// The Ray image of `ray_version`: `rayproject/ray:<ray_version>`.
#[must_use]
pub fn ray_image(ray_version: &str) -> String {
    format!("{RAY_IMAGE_REPOSITORY}:{ray_version}")
}

/// The Ray image of the spec: that of its `rayVersion`, or of the default
/// version when it is empty.
#[must_use]
pub fn effective_ray_image(spec: &RayClusterSpec) -> String {
    if spec.ray_version.is_empty() {
        ray_image(DEFAULT_RAY_VERSION)
    } else {
        ray_image(&spec.ray_version)
    }
}

/// Requests equal to limits.
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

fn one_container_template(name: &str, resources: ResourceRequirements) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: None,
        spec: Some(PodSpec {
            containers: vec![Container {
                name: name.to_owned(),
                resources: Some(resources),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
    }
}

/// The head template the schema stores when none is given: one container
/// `ray-head`, 1 CPU and 2Gi, no image (the image follows `rayVersion`).
#[must_use]
pub fn default_head_template() -> PodTemplateSpec {
    one_container_template(HEAD_CONTAINER_NAME, guaranteed(HEAD_CPU, HEAD_MEMORY))
}

/// The worker template the schema stores when none is given: one container
/// `ray-worker`, 1 CPU and 1Gi, no image (the image follows `rayVersion`).
#[must_use]
pub fn default_worker_template() -> PodTemplateSpec {
    one_container_template(WORKER_CONTAINER_NAME, guaranteed(WORKER_CPU, WORKER_MEMORY))
}

/// Resources of the autoscaler container when none are given.
#[must_use]
pub fn autoscaler_resources() -> ResourceRequirements {
    guaranteed(AUTOSCALER_CPU, AUTOSCALER_MEMORY)
}

/// The head's pod template as rayop runs it: the given template (or the
/// default one), with the Ray container's name and image filled in when
/// missing.
#[must_use]
pub fn effective_head_template(spec: &RayClusterSpec) -> PodTemplateSpec {
    let given = spec
        .head_group_spec
        .as_ref()
        .and_then(|head| head.template.as_ref());
    fill_ray_container(
        given.cloned().unwrap_or_else(default_head_template),
        HEAD_CONTAINER_NAME,
        &effective_ray_image(spec),
        guaranteed(HEAD_CPU, HEAD_MEMORY),
    )
}

/// A worker group's pod template as rayop runs it: the group's template (or
/// the default one), with the Ray container's name and image filled in when
/// missing.
#[must_use]
pub fn effective_worker_template(
    spec: &RayClusterSpec,
    group: &WorkerGroupSpec,
) -> PodTemplateSpec {
    fill_ray_container(
        group
            .template
            .clone()
            .unwrap_or_else(default_worker_template),
        WORKER_CONTAINER_NAME,
        &effective_ray_image(spec),
        guaranteed(WORKER_CPU, WORKER_MEMORY),
    )
}

/// Fills the Ray container's name and image. A template without containers
/// (refused by the CRD and by `validate`) gets the default container, so the
/// result always has a Ray container.
fn fill_ray_container(
    mut template: PodTemplateSpec,
    name: &str,
    image: &str,
    resources: ResourceRequirements,
) -> PodTemplateSpec {
    let pod = template.spec.get_or_insert_with(PodSpec::default);
    if pod.containers.is_empty() {
        pod.containers.push(Container {
            name: name.to_owned(),
            resources: Some(resources),
            ..Container::default()
        });
    }
    if let Some(ray) = pod.containers.get_mut(RAY_CONTAINER_INDEX) {
        if ray.name.is_empty() {
            name.clone_into(&mut ray.name);
        }
        if ray.image.as_deref().is_none_or(str::is_empty) {
            ray.image = Some(image.to_owned());
        }
    }
    template
}

/// Type of the head Service: `headGroupSpec.serviceType`, else the seed's
/// `headService.type`, else the type of the `headGroupSpec.headService` base
/// when it is one rayop supports, else ClusterIP.
#[must_use]
pub fn effective_head_service_type(spec: &RayClusterSpec) -> ServiceType {
    let head = spec.head_group_spec.as_ref();
    let from_base = || {
        let base = head?
            .head_service
            .as_ref()?
            .spec
            .as_ref()?
            .type_
            .as_deref()?;
        [
            ServiceType::ClusterIP,
            ServiceType::NodePort,
            ServiceType::LoadBalancer,
        ]
        .into_iter()
        .find(|t| t.as_str() == base)
    };
    head.and_then(|h| h.service_type)
        .or_else(|| spec.head_service.as_ref().and_then(|s| s.type_))
        .or_else(from_base)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::head::{HeadGroupSpec, HeadServiceOptions};

    fn ray_container(template: &PodTemplateSpec) -> &Container {
        &template.spec.as_ref().unwrap().containers[RAY_CONTAINER_INDEX]
    }

    #[test]
    fn empty_spec_gets_default_head_and_image() {
        let spec = RayClusterSpec {
            ray_version: "2.6.0".into(),
            ..RayClusterSpec::default()
        };
        let head = effective_head_template(&spec);
        let ray = ray_container(&head);
        assert_eq!(ray.name, "ray-head");
        assert_eq!(ray.image.as_deref(), Some("rayproject/ray:2.6.0"));
        let resources = ray.resources.as_ref().unwrap();
        assert_eq!(resources.limits, resources.requests);
        assert_eq!(resources.limits.as_ref().unwrap()["memory"].0, "2Gi");
    }

    #[test]
    fn worker_default_template() {
        let spec = RayClusterSpec::default();
        let template = effective_worker_template(&spec, &WorkerGroupSpec::new("g"));
        let ray = ray_container(&template);
        assert_eq!(ray.name, "ray-worker");
        assert_eq!(
            ray.image.as_deref(),
            Some(format!("rayproject/ray:{DEFAULT_RAY_VERSION}").as_str())
        );
        assert_eq!(
            ray.resources.as_ref().unwrap().limits.as_ref().unwrap()["cpu"].0,
            "1"
        );
    }

    #[test]
    fn a_user_template_keeps_its_image_and_resources() {
        let mut group = WorkerGroupSpec::new("g");
        group.template = Some(PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![
                    Container {
                        name: "main".into(),
                        image: Some("my/ray:1".into()),
                        ..Container::default()
                    },
                    Container {
                        name: "sidecar".into(),
                        ..Container::default()
                    },
                ],
                ..PodSpec::default()
            }),
        });
        let template = effective_worker_template(&RayClusterSpec::default(), &group);
        assert_eq!(template, group.template.clone().unwrap());
    }

    #[test]
    fn a_container_without_image_gets_the_ray_image() {
        let mut group = WorkerGroupSpec::new("g");
        group.template = Some(PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container::default()],
                ..PodSpec::default()
            }),
        });
        let template = effective_worker_template(&RayClusterSpec::default(), &group);
        let ray = ray_container(&template);
        assert_eq!(ray.name, "ray-worker");
        assert!(ray.image.as_deref().unwrap().starts_with("rayproject/ray:"));
        assert_eq!(ray.resources, None);
    }

    #[test]
    fn head_service_type_precedence() {
        let mut spec = RayClusterSpec::default();
        assert_eq!(effective_head_service_type(&spec), ServiceType::ClusterIP);
        spec.head_service = Some(HeadServiceOptions {
            type_: Some(ServiceType::NodePort),
        });
        assert_eq!(effective_head_service_type(&spec), ServiceType::NodePort);
        spec.head_group_spec = Some(HeadGroupSpec {
            service_type: Some(ServiceType::LoadBalancer),
            ..HeadGroupSpec::default()
        });
        assert_eq!(
            effective_head_service_type(&spec),
            ServiceType::LoadBalancer
        );
    }
}
