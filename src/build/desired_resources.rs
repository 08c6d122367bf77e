//! The resources a cluster's spec asks for in all, for `status.desiredCPU`,
//! `desiredMemory`, `desiredGPU` and `desiredTPU`.
//!
//! Role: a pure function of the spec, as KubeRay computes it. A pod's
//! resources are those of its template's `containers` (init containers and
//! the autoscaler sidecar rayop adds do not count): per container its
//! requests, and its limits for any resource it requests nothing of. The
//! total is the head pod plus, for each group that is not suspended, the
//! pod × `replicas` × `numOfHosts`, `replicas` taken as written (not
//! clamped; a negative count adds nothing).
//!
//! Invariants:
//! - GPUs are every resource whose name ends in `gpu` (`nvidia.com/gpu`,
//!   `amd.com/gpu`) or is a MIG slice `nvidia.com/mig-<n>g.<m>gb`; TPUs are
//!   `google.com/tpu`.
//! - Every total is a canonical quantity string, `0` when nothing asks for
//!   the resource; a quantity that does not parse counts as absent.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::quantity_sum::SummedQuantity;
use crate::crd::{
    WorkerGroupSpec,
    effective::{effective_head_template, effective_worker_template},
    spec::RayClusterSpec,
};

/// The resource name of Google TPUs.
pub const TPU_RESOURCE: &str = "google.com/tpu";

/// The totals published in `status`, as canonical quantity strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredResources {
    /// `cpu` in all.
    pub cpu: String,
    /// `memory` in all.
    pub memory: String,
    /// All GPU resources in all.
    pub gpu: String,
    /// `google.com/tpu` in all.
    pub tpu: String,
}

impl DesiredResources {
    /// The totals `spec` asks for.
    #[must_use]
    pub fn of(spec: &RayClusterSpec) -> Self {
        let totals = resource_totals(spec, |group| group.replicas);
        let total = |name: &str| totals.get(name).copied().unwrap_or_default();
        let gpu = totals
            .iter()
            .filter(|(name, _)| is_gpu(name))
            .fold(SummedQuantity::default(), |sum, (_, amount)| {
                sum.plus(*amount)
            });
        Self {
            cpu: total("cpu").canonical(),
            memory: total("memory").canonical(),
            gpu: gpu.canonical(),
            tpu: total(TPU_RESOURCE).canonical(),
        }
    }
}

/// Every resource the head pod and, per group that is not suspended,
/// `replicas_of(group)` × `numOfHosts` worker pods ask for, by name (a
/// count below one adds nothing).
#[must_use]
pub fn resource_totals(
    spec: &RayClusterSpec,
    replicas_of: impl Fn(&WorkerGroupSpec) -> i32,
) -> BTreeMap<String, SummedQuantity> {
    let mut totals = pod_resources(&effective_head_template(spec));
    for group in &spec.worker_group_specs {
        let replicas = replicas_of(group);
        if group.suspend == Some(true) || replicas <= 0 {
            continue;
        }
        let pods = u64::from(replicas.unsigned_abs())
            .saturating_mul(u64::from(group.num_of_hosts.max(0).unsigned_abs()));
        for (name, amount) in pod_resources(&effective_worker_template(spec, group)) {
            add(&mut totals, name, amount.times(pods));
        }
    }
    totals
}

/// Whether the resource `name` counts as GPUs.
#[must_use]
pub fn is_gpu(name: &str) -> bool {
    name.ends_with("gpu") || is_mig_slice(name)
}

/// `nvidia.com/mig-<n>g.<m>gb`, with `<n>` and `<m>` decimal numbers.
fn is_mig_slice(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    name.strip_prefix("nvidia.com/mig-")
        .and_then(|rest| rest.strip_suffix("gb"))
        .and_then(|rest| rest.split_once("g."))
        .is_some_and(|(compute, memory)| digits(compute) && digits(memory))
}

fn add(totals: &mut BTreeMap<String, SummedQuantity>, name: String, amount: SummedQuantity) {
    let sum = totals.entry(name).or_default();
    *sum = sum.plus(amount);
}

/// One pod's resources by name: per container, requests, else limits.
#[must_use]
pub fn pod_resources(template: &PodTemplateSpec) -> BTreeMap<String, SummedQuantity> {
    let mut totals = BTreeMap::new();
    let containers = template.spec.iter().flat_map(|pod| &pod.containers);
    for resources in containers.filter_map(|c| c.resources.as_ref()) {
        let requests = resources.requests.iter().flatten();
        let limits = resources.limits.iter().flatten().filter(|(name, _)| {
            !resources
                .requests
                .as_ref()
                .is_some_and(|r| r.contains_key(*name))
        });
        for (name, quantity) in requests.chain(limits) {
            if let Some(amount) = SummedQuantity::parse(&quantity.0) {
                add(&mut totals, name.clone(), amount);
            }
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::{Container, PodSpec, ResourceRequirements},
        apimachinery::pkg::api::resource::Quantity,
    };

    use super::*;
    use crate::crd::{RayCluster, test_builders::group};

    fn list(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
                .collect(),
        )
    }

    /// A container's `(requests, limits)`.
    type Resources<'a> = (&'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);

    fn template(containers: &[Resources<'_>]) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: containers
                    .iter()
                    .map(|(requests, limits)| Container {
                        name: "c".into(),
                        resources: Some(ResourceRequirements {
                            requests: list(requests),
                            limits: list(limits),
                            ..ResourceRequirements::default()
                        }),
                        ..Container::default()
                    })
                    .collect(),
                ..PodSpec::default()
            }),
        }
    }

    #[test]
    fn default_templates_count_head_and_clamp_free_replicas() {
        // Head 1 CPU 2Gi; 3 workers of 1 CPU 1Gi, replicas above maxReplicas
        // counted as written.
        let cluster = RayCluster::test("rc").with_group(group("g").with_replicas(3).bounds(0, 1));
        let r = DesiredResources::of(&cluster.spec);
        assert_eq!(
            r,
            DesiredResources {
                cpu: "4".into(),
                memory: "5Gi".into(),
                gpu: "0".into(),
                tpu: "0".into(),
            }
        );
    }

    #[test]
    fn hosts_multiply_and_suspended_groups_do_not_count() {
        let mut suspended = group("off").with_replicas(5);
        suspended.suspend = Some(true);
        let mut tpu = group("tpu").with_replicas(2).with_hosts(4);
        tpu.template = Some(template(&[(&[("cpu", "500m")], &[(TPU_RESOURCE, "4")])]));
        let cluster = RayCluster::test("rc").with_group(suspended).with_group(tpu);
        let r = DesiredResources::of(&cluster.spec);
        assert_eq!(r.cpu, "5");
        assert_eq!(r.memory, "2Gi");
        assert_eq!(r.tpu, "32");
    }

    #[test]
    fn requests_win_over_limits_per_resource_and_containers_add_up() {
        let mut g = group("g").with_replicas(1);
        g.template = Some(template(&[
            (&[("cpu", "250m")], &[("cpu", "2"), ("memory", "512Mi")]),
            (&[], &[("cpu", "250m"), ("nvidia.com/gpu", "1")]),
        ]));
        let cluster = RayCluster::test("rc").with_group(g);
        let r = DesiredResources::of(&cluster.spec);
        assert_eq!(r.cpu, "1500m");
        assert_eq!(r.memory, "2560Mi");
        assert_eq!(r.gpu, "1");
    }

    #[test]
    fn every_gpu_kind_counts_and_bad_quantities_do_not() {
        let mut g = group("g").with_replicas(2);
        g.template = Some(template(&[(
            &[
                ("nvidia.com/gpu", "1"),
                ("amd.com/gpu", "2"),
                ("nvidia.com/mig-1g.5gb", "1"),
                ("memory", "lots"),
            ],
            &[],
        )]));
        let cluster = RayCluster::test("rc").with_group(g);
        let r = DesiredResources::of(&cluster.spec);
        assert_eq!(r.gpu, "8");
        assert_eq!(r.memory, "2Gi");
    }

    #[test]
    fn gpu_names() {
        assert!(is_gpu("nvidia.com/gpu"));
        assert!(is_gpu("amd.com/gpu"));
        assert!(is_gpu("nvidia.com/mig-3g.20gb"));
        assert!(!is_gpu("nvidia.com/mig-g.20gb"));
        assert!(!is_gpu("nvidia.com/mig-3g.gb"));
        assert!(!is_gpu(TPU_RESOURCE));
        assert!(!is_gpu("cpu"));
    }
}
