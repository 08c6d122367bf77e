//! The Volcano PodGroup `ray-<cluster>-pg` (`scheduling.volcano.sh/v1beta1`),
//! built under `--batch-scheduler=volcano`.
//!
//! Role: tell Volcano how many of the cluster's pods, and how much of the
//! cluster's resources, must fit before any pod is bound.
//!
//! Invariants:
//! - `minMember` is 1 (the head) plus, per worker group, its clamped
//!   `replicas` × `numOfHosts`, or with in-tree autoscaling its
//!   `minReplicas` × `numOfHosts` (suspended groups count 0).
//! - `minResources` is the head pod's resources plus each non-suspended
//!   group's pod × `replicas` (as written; with autoscaling `minReplicas`) ×
//!   `numOfHosts`, per container requests, else limits.
//! - `queue`, `priorityClassName` and `networkTopology` come from the
//!   RayCluster's labels; a `volcano.sh/network-topology-highest-tier-allowed`
//!   that is no integer is a build error naming the label.
//! - The RayCluster's annotations are copied (kubectl's last-applied copy
//!   excepted); a cluster labelled `ray.io/originated-from-crd=RayJob` gets
//!   none, as its RayJob makes the gang.
//! - The PodGroup belongs to the head set, so a change of the worker counts
//!   re-applies it (and only the head set's objects whose content changed
//!   are rewritten; the head pod is not restarted).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{
    BatchScheduler, BuildError, ClusterContext,
    batch_scheduler::{LABEL_PRIORITY_CLASS, LABEL_VOLCANO_QUEUE},
    desired_resources::resource_totals,
    object_meta::object_meta,
    quantity_sum::SummedQuantity,
};
use crate::{
    crd::{RayClusterSpec, names::RayNode},
    desired::Object,
    owned::pod_groups::{VolcanoNetworkTopology, VolcanoPodGroup, VolcanoPodGroupSpec},
};

/// RayCluster label with the PodGroup's `networkTopology.mode`.
pub const LABEL_NETWORK_TOPOLOGY_MODE: &str = "volcano.sh/network-topology-mode";
/// RayCluster label with the PodGroup's `networkTopology.highestTierAllowed`.
pub const LABEL_NETWORK_TOPOLOGY_HIGHEST_TIER: &str =
    "volcano.sh/network-topology-highest-tier-allowed";

/// The PodGroup's name, `ray-<cluster>-pg`.
#[must_use]
pub fn pod_group_name(cluster: &str) -> String {
    format!("ray-{cluster}-pg")
}

/// 1 (the head) plus the worker pods that must run together.
#[must_use]
pub fn min_member(spec: &RayClusterSpec) -> i32 {
    let autoscaling = spec.autoscaling_enabled();
    spec.worker_group_specs
        .iter()
        .map(|group| {
            let replicas = if group.suspend == Some(true) {
                0
            } else if autoscaling {
                group.min_replicas.max(0)
            } else {
                group.clamped_replicas()
            };
            replicas.saturating_mul(group.num_of_hosts.max(0))
        })
        .fold(1_i32, i32::saturating_add)
}

/// What the gang needs in all, as canonical quantities: with in-tree
/// autoscaling at `minReplicas`, else at `replicas` as written.
#[must_use]
pub fn min_resources(spec: &RayClusterSpec) -> BTreeMap<String, Quantity> {
    if spec.autoscaling_enabled() {
        canonical(resource_totals(spec, |group| group.min_replicas))
    } else {
        min_resources_as_written(spec)
    }
}

/// What the spec asks for in all at `replicas` as written, as canonical quantities.
#[must_use]
pub fn min_resources_as_written(spec: &RayClusterSpec) -> BTreeMap<String, Quantity> {
    canonical(resource_totals(spec, |group| group.replicas))
}

fn canonical(totals: BTreeMap<String, SummedQuantity>) -> BTreeMap<String, Quantity> {
    totals
        .into_iter()
        .map(|(name, amount)| (name, Quantity(amount.canonical())))
        .collect()
}

/// The PodGroup, under Volcano and unless a RayJob made the cluster.
///
/// # Errors
/// [`BuildError::InvalidLabel`] when the highest-tier label is no integer.
pub fn volcano_pod_group(ctx: &ClusterContext<'_>) -> Result<Option<Object>, BuildError> {
    if ctx.options.batch_scheduler != Some(BatchScheduler::Volcano)
        || ctx.label(crate::crd::names::LABEL_ORIGINATED_FROM_CRD) == Some("RayJob")
    {
        return Ok(None);
    }
    let network_topology = match ctx.label(LABEL_NETWORK_TOPOLOGY_MODE) {
        None => None,
        Some(mode) => Some(VolcanoNetworkTopology {
            mode: Some(mode.to_owned()),
            highest_tier_allowed: ctx
                .label(LABEL_NETWORK_TOPOLOGY_HIGHEST_TIER)
                .map(|tier| {
                    tier.trim()
                        .parse::<i32>()
                        .map_err(|_| BuildError::InvalidLabel {
                            label: LABEL_NETWORK_TOPOLOGY_HIGHEST_TIER.to_owned(),
                            value: tier.to_owned(),
                            expected: "an integer",
                        })
                })
                .transpose()?,
        }),
    };
    let mut metadata = object_meta(ctx, pod_group_name(ctx.name), RayNode::Head);
    let annotations: BTreeMap<String, String> = ctx
        .annotations
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != "kubectl.kubernetes.io/last-applied-configuration")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    let spec = VolcanoPodGroupSpec {
        min_member: min_member(ctx.spec),
        min_resources: Some(min_resources(ctx.spec)),
        queue: ctx.label(LABEL_VOLCANO_QUEUE).map(str::to_owned),
        priority_class_name: ctx.label(LABEL_PRIORITY_CLASS).map(str::to_owned),
        network_topology,
    };
    Ok(Some(Object::VolcanoPodGroup(VolcanoPodGroup::new(
        metadata, spec,
    ))))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements};

    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, test_builders::group},
    };

    fn volcano() -> BuildOptions {
        BuildOptions {
            batch_scheduler: Some(BatchScheduler::Volcano),
            ..BuildOptions::default()
        }
    }

    fn template(cpu: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "ray".into(),
                    image: Some("rayproject/ray:2.52.0".into()),
                    resources: Some(ResourceRequirements {
                        requests: Some(BTreeMap::from([("cpu".into(), Quantity(cpu.into()))])),
                        limits: Some(BTreeMap::from([("memory".into(), Quantity("1Gi".into()))])),
                        ..ResourceRequirements::default()
                    }),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            ..PodTemplateSpec::default()
        }
    }

    fn build(
        c: &RayCluster,
        options: &BuildOptions,
    ) -> Result<Option<VolcanoPodGroup>, BuildError> {
        let ctx = ClusterContext::new(c, options).unwrap();
        Ok(volcano_pod_group(&ctx)?.map(|o| match o {
            Object::VolcanoPodGroup(pg) => pg,
            other => panic!("{other:?}"),
        }))
    }

    fn labelled(mut c: RayCluster, labels: &[(&str, &str)]) -> RayCluster {
        c.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        c
    }

    fn sized() -> RayCluster {
        let mut head_and_two = RayCluster::test("rc")
            .with_group(group("a").with_replicas(2).bounds(1, 5))
            .with_group(group("b").with_replicas(9).bounds(0, 3));
        head_and_two.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template("1")),
            ..Default::default()
        });
        head_and_two.spec.worker_group_specs[0].template = Some(template("500m"));
        head_and_two.spec.worker_group_specs[1].template = Some(template("2"));
        head_and_two.spec.worker_group_specs[1].num_of_hosts = 2;
        head_and_two
    }

    #[test]
    fn only_under_volcano_and_not_for_rayjob_clusters() {
        let c = RayCluster::test("rc").with_workers(1);
        assert_eq!(build(&c, &BuildOptions::default()).unwrap(), None);
        let pg = build(&c, &volcano()).unwrap().unwrap();
        assert_eq!(pg.metadata.name.as_deref(), Some("ray-rc-pg"));
        assert_eq!(
            pg.metadata.owner_references.unwrap()[0].controller,
            Some(true)
        );
        assert_eq!(pg.metadata.labels.unwrap()["ray.io/cluster"], "rc");
        let from_job = labelled(
            c,
            &[(crate::crd::names::LABEL_ORIGINATED_FROM_CRD, "RayJob")],
        );
        assert_eq!(build(&from_job, &volcano()).unwrap(), None);
    }

    #[test]
    fn min_member_and_resources_follow_the_desired_workers() {
        let pg = build(&sized(), &volcano()).unwrap().unwrap();
        // head + a: 2 + b: clamped 3 × 2 hosts
        assert_eq!(pg.spec.min_member, 9);
        let resources = pg.spec.min_resources.unwrap();
        // 1 + 2 × 0.5 + 9 × 2 × 2 (as written, not clamped)
        assert_eq!(resources["cpu"], Quantity("38".into()));
        assert_eq!(resources["memory"], Quantity("21Gi".into()));
    }

    #[test]
    fn autoscaling_counts_min_replicas_and_suspended_groups_nothing() {
        let mut c = sized();
        c.spec.enable_in_tree_autoscaling = Some(true);
        let pg = build(&c, &volcano()).unwrap().unwrap();
        assert_eq!(pg.spec.min_member, 2);
        assert_eq!(
            pg.spec.min_resources.unwrap()["cpu"],
            Quantity("1500m".into())
        );
        c.spec.worker_group_specs[0].suspend = Some(true);
        let pg = build(&c, &volcano()).unwrap().unwrap();
        assert_eq!(pg.spec.min_member, 1);
    }

    #[test]
    fn queue_priority_topology_and_annotations_come_from_the_cluster() {
        let mut c = labelled(
            RayCluster::test("rc"),
            &[
                (LABEL_VOLCANO_QUEUE, "q1"),
                (LABEL_PRIORITY_CLASS, "high"),
                (LABEL_NETWORK_TOPOLOGY_MODE, "hard"),
                (LABEL_NETWORK_TOPOLOGY_HIGHEST_TIER, "2"),
            ],
        );
        c.metadata.annotations = Some(BTreeMap::from([
            ("team".to_owned(), "ml".to_owned()),
            (
                "kubectl.kubernetes.io/last-applied-configuration".to_owned(),
                "{}".to_owned(),
            ),
        ]));
        let pg = build(&c, &volcano()).unwrap().unwrap();
        assert_eq!(pg.spec.queue.as_deref(), Some("q1"));
        assert_eq!(pg.spec.priority_class_name.as_deref(), Some("high"));
        assert_eq!(
            pg.spec.network_topology,
            Some(VolcanoNetworkTopology {
                mode: Some("hard".into()),
                highest_tier_allowed: Some(2)
            })
        );
        assert_eq!(
            pg.metadata.annotations,
            Some(BTreeMap::from([("team".to_owned(), "ml".to_owned())]))
        );
    }

    #[test]
    fn a_non_integer_tier_is_an_error_naming_the_label() {
        let c = labelled(
            RayCluster::test("rc"),
            &[
                (LABEL_NETWORK_TOPOLOGY_MODE, "soft"),
                (LABEL_NETWORK_TOPOLOGY_HIGHEST_TIER, "two"),
            ],
        );
        let err = build(&c, &volcano()).unwrap_err();
        assert!(
            err.to_string()
                .contains(LABEL_NETWORK_TOPOLOGY_HIGHEST_TIER),
            "{err}"
        );
        let no_tier = labelled(
            RayCluster::test("rc"),
            &[(LABEL_NETWORK_TOPOLOGY_MODE, "soft")],
        );
        let pg = build(&no_tier, &volcano()).unwrap().unwrap();
        assert_eq!(pg.spec.network_topology.unwrap().highest_tier_allowed, None);
    }
}
