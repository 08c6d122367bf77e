//! The scheduler-plugins PodGroup `<cluster>` (`scheduling.x-k8s.io/v1alpha1`),
//! built under `--batch-scheduler=scheduler-plugins` for clusters labelled
//! `ray.io/gang-scheduling-enabled`.
//!
//! Invariants: `minMember` is 1 plus every group's clamped `replicas` ×
//! `numOfHosts`; `minResources` is what the spec asks for in all (the head
//! plus each non-suspended group's pod × `replicas` × `numOfHosts`). Like
//! every owned object it has a controller owner reference to the RayCluster
//! and follows the spec (it belongs to the head set).

use super::{
    BatchScheduler, ClusterContext, batch_scheduler::gang_scheduling, object_meta::object_meta,
    volcano_pod_group::min_resources_as_written,
};
use crate::{
    crd::{RayClusterSpec, names::RayNode},
    desired::Object,
    owned::pod_groups::{SchedulerPluginsPodGroup, SchedulerPluginsPodGroupSpec},
};

/// 1 (the head) plus every group's clamped worker pods.
#[must_use]
pub fn desired_members(spec: &RayClusterSpec) -> i32 {
    spec.worker_group_specs
        .iter()
        .map(|group| {
            group
                .clamped_replicas()
                .saturating_mul(group.num_of_hosts.max(0))
        })
        .fold(1_i32, i32::saturating_add)
}

/// The PodGroup, under scheduler-plugins with the gang label.
#[must_use]
pub fn scheduler_plugins_pod_group(ctx: &ClusterContext<'_>) -> Option<Object> {
    if ctx.options.batch_scheduler != Some(BatchScheduler::SchedulerPlugins)
        || !gang_scheduling(ctx)
    {
        return None;
    }
    let spec = SchedulerPluginsPodGroupSpec {
        min_member: desired_members(ctx.spec),
        min_resources: Some(min_resources_as_written(ctx.spec)),
    };
    Some(Object::SchedulerPluginsPodGroup(
        SchedulerPluginsPodGroup::new(object_meta(ctx, ctx.name.to_owned(), RayNode::Head), spec),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::{BuildOptions, batch_scheduler::LABEL_GANG_SCHEDULING},
        crd::{RayCluster, test_builders::group},
    };

    fn build(
        c: &RayCluster,
        scheduler: Option<BatchScheduler>,
    ) -> Option<SchedulerPluginsPodGroup> {
        let options = BuildOptions {
            batch_scheduler: scheduler,
            ..BuildOptions::default()
        };
        let ctx = ClusterContext::new(c, &options).unwrap();
        scheduler_plugins_pod_group(&ctx).map(|o| match o {
            Object::SchedulerPluginsPodGroup(pg) => pg,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn only_with_the_gang_label_under_scheduler_plugins() {
        let mut c = RayCluster::test("rc").with_group(group("a").with_replicas(3).bounds(0, 2));
        assert_eq!(build(&c, Some(BatchScheduler::SchedulerPlugins)), None);
        c.metadata.labels = Some([(LABEL_GANG_SCHEDULING.to_owned(), "true".to_owned())].into());
        assert_eq!(build(&c, Some(BatchScheduler::Volcano)), None);
        let pg = build(&c, Some(BatchScheduler::SchedulerPlugins)).unwrap();
        assert_eq!(pg.metadata.name.as_deref(), Some("rc"));
        assert_eq!(pg.spec.min_member, 3);
        assert!(pg.spec.min_resources.is_some());
        assert_eq!(pg.metadata.owner_references.unwrap()[0].uid, "uid-rc");
    }
}
