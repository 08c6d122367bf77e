//! What rayop runs for a spec: the values of [`defaults`] applied to the types.
//!
//! Role: pure functions from a spec to the pod templates, head Service type
//! and worker counts rayop builds from, so a spec as short as the seed's
//! works. The schema stores the same defaults at admission (so users, GitOps
//! diffs and the Ray autoscaler see them, and an operator upgrade never
//! changes a running cluster); these functions cover objects that lack them
//! (built in code, or stored before a default existed), and the one default a
//! schema cannot express: the image follows `rayVersion`.
//!
//! Invariant: a user's template is authoritative; only the Ray container's
//! (the first container's) missing name and image are filled in, never its
//! resources. No type module imports this one.

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

use crate::crd::{
    defaults::{self, DEFAULT_RAY_VERSION, RAY_CONTAINER_INDEX},
    head::ServiceType,
    limits,
    spec::RayClusterSpec,
    status::WorkerCounts,
    worker_group::WorkerGroupSpec,
};

/// The Ray image of the spec: that of its `rayVersion`, or of the default
/// version when it is empty.
#[must_use]
pub fn effective_ray_image(spec: &RayClusterSpec) -> String {
    if spec.ray_version.is_empty() {
        defaults::ray_image(DEFAULT_RAY_VERSION)
    } else {
        defaults::ray_image(&spec.ray_version)
    }
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
        given
            .cloned()
            .unwrap_or_else(defaults::default_head_template),
        defaults::head_container(),
        &effective_ray_image(spec),
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
            .unwrap_or_else(defaults::default_worker_template),
        defaults::worker_container(),
        &effective_ray_image(spec),
    )
}

/// Fills the Ray container's name (from `default`) and image. A template
/// without containers (refused by the CRD and by `validate`) gets `default`,
/// so the result always has a Ray container.
fn fill_ray_container(
    mut template: PodTemplateSpec,
    default: Container,
    image: &str,
) -> PodTemplateSpec {
    let pod = template.spec.get_or_insert_with(PodSpec::default);
    let name = default.name.clone();
    if pod.containers.is_empty() {
        pod.containers.push(default);
    }
    if let Some(ray) = pod.containers.get_mut(RAY_CONTAINER_INDEX) {
        if ray.name.is_empty() {
            ray.name = name;
        }
        if ray.image.as_deref().is_none_or(str::is_empty) {
            ray.image = Some(image.to_owned());
        }
    }
    template
}

/// Type of the head Service: the type of the custom
/// `headGroupSpec.headService` when it is one rayop supports (the user's
/// Service wins, as in KubeRay), else `headGroupSpec.serviceType`, else the
/// seed's `headService.type`, else ClusterIP.
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
    from_base()
        .or_else(|| head.and_then(|h| h.service_type))
        .or_else(|| spec.head_service.as_ref().and_then(|s| s.type_))
        .unwrap_or_default()
}

// Defined in `status` (it feeds `status`'s worker counts); derived here, so
// that `status` need not read the spec.
impl WorkerCounts {
    /// Counts for `spec`, in pods, with an unset `maxReplicas` capped as
    /// [`limits::effective_max_replicas`] says. Exact for a spec that passes
    /// validation (whose counts fit the limits); for one that does not, the
    /// sums stop at `i32::MAX`, and the InvalidSpec condition says why.
    #[must_use]
    pub fn of(spec: &RayClusterSpec) -> Self {
        let to_i32 = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        let (desired, min, max) = spec.worker_group_specs.iter().fold(
            (0i64, 0i64, 0i64),
            |(desired, min, max), group| {
                let hosts = i64::from(group.num_of_hosts.max(0));
                let group_max =
                    limits::effective_max_replicas(group.max_replicas, group.num_of_hosts);
                (
                    desired + i64::from(group.clamped_replicas().min(group_max)) * hosts,
                    min + i64::from(group.min_replicas.max(0)) * hosts,
                    max + i64::from(group_max.max(0)) * hosts,
                )
            },
        );
        Self {
            desired: to_i32(desired),
            min: to_i32(min),
            max: to_i32(max),
        }
    }
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
        // A custom head Service's own type wins over serviceType.
        if let Some(head) = spec.head_group_spec.as_mut() {
            head.head_service = Some(k8s_openapi::api::core::v1::Service {
                spec: Some(k8s_openapi::api::core::v1::ServiceSpec {
                    type_: Some("NodePort".into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        assert_eq!(effective_head_service_type(&spec), ServiceType::NodePort);
    }

    #[test]
    fn worker_counts_multiply_hosts_and_cap_an_unset_max() {
        let mut small = WorkerGroupSpec::new("small");
        small.replicas = 2;
        small.min_replicas = 1;
        small.max_replicas = 3;
        let mut tpu = WorkerGroupSpec::new("tpu");
        tpu.replicas = 1;
        tpu.num_of_hosts = 4;
        let spec = RayClusterSpec {
            worker_group_specs: vec![small, tpu],
            ..RayClusterSpec::default()
        };
        let counts = WorkerCounts::of(&spec);
        assert_eq!(counts.desired, 2 + 4);
        assert_eq!(counts.min, 1);
        // `tpu` leaves maxReplicas unset: capped at the group's 10000 pods.
        assert_eq!(counts.max, 3 + limits::MAX_PODS_PER_GROUP);
    }
}
