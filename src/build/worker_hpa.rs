//! The HorizontalPodAutoscaler of a worker group with `horizontalPodAutoscaler`.
//!
//! Invariants:
//! - It targets the group's own workload (StatefulSet or Deployment) by name.
//! - Its bounds are the group's, in pods: `minReplicas` (raised to 1, the
//!   least an HPA accepts) and `maxReplicas` (an unset one capped at the
//!   group's pod limit, see `crd::limits`), each times `numOfHosts`. Counts
//!   that would not fit an `i32` build no HPA (validation refuses them first).
//! - Without metrics it scales on 80% average CPU utilization; `behavior` is
//!   passed through unchanged.
//! - The workload's replicas are left to the HPA: the apply step never writes
//!   them for such a group (see `rayop_machines::GroupSpec::external_replicas`).

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};

use crate::{
    build::{ClusterContext, object_meta::object_meta},
    crd::{
        WorkerGroupSpec, limits,
        names::{self, RayNode},
    },
    desired::Object,
};

/// Average CPU utilization the default metric aims for, in percent.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

fn default_metrics() -> Vec<MetricSpec> {
    vec![MetricSpec {
        type_: "Resource".to_owned(),
        resource: Some(ResourceMetricSource {
            name: "cpu".to_owned(),
            target: MetricTarget {
                type_: "Utilization".to_owned(),
                average_utilization: Some(DEFAULT_CPU_UTILIZATION),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }]
}

/// The group's HPA, when it asks for one.
#[must_use]
pub fn worker_hpa(ctx: &ClusterContext<'_>, group: &WorkerGroupSpec) -> Option<Object> {
    let hpa = group.horizontal_pod_autoscaler.as_ref()?;
    let hosts = group.num_of_hosts.max(1);
    let group_max = limits::effective_max_replicas(group.max_replicas, hosts);
    // Validation keeps both within a group's pods; never saturate into the HPA.
    let min = limits::pods(group.min_replicas.max(1), hosts)?;
    let max = limits::pods(group_max.max(1), hosts)?.max(min);
    let workload = names::worker_workload_name(ctx.name, &group.group_name);
    Some(Object::HorizontalPodAutoscaler(HorizontalPodAutoscaler {
        metadata: object_meta(ctx, workload.clone(), RayNode::Worker(&group.group_name)),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: ctx.spec.effective_workload_kind(group).as_str().to_owned(),
                name: workload,
            },
            min_replicas: Some(min),
            max_replicas: max,
            metrics: Some(hpa.metrics.clone().unwrap_or_else(default_metrics)),
            behavior: hpa.behavior.clone(),
        }),
        status: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, test_builders::group, worker_group::GroupAutoscaler},
    };

    fn build(g: WorkerGroupSpec) -> Option<HorizontalPodAutoscaler> {
        let cluster = RayCluster::test("rc").with_group(g);
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        match worker_hpa(&ctx, &cluster.spec.worker_group_specs[0]) {
            Some(Object::HorizontalPodAutoscaler(h)) => Some(h),
            _ => None,
        }
    }

    #[test]
    fn no_field_no_hpa() {
        assert!(build(group("g").bounds(0, 4)).is_none());
    }

    #[test]
    fn targets_the_workload_with_the_group_bounds_and_cpu_default() {
        let mut g = group("g").bounds(0, 4).with_hosts(2);
        g.horizontal_pod_autoscaler = Some(GroupAutoscaler::default());
        let hpa = build(g).unwrap();
        assert_eq!(hpa.metadata.name.as_deref(), Some("rc-g"));
        let spec = hpa.spec.unwrap();
        assert_eq!(spec.scale_target_ref.name, "rc-g");
        assert_eq!(spec.scale_target_ref.kind, "StatefulSet");
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 8));
        let metric = &spec.metrics.unwrap()[0];
        assert_eq!(
            metric.resource.as_ref().unwrap().target.average_utilization,
            Some(80)
        );
    }

    #[test]
    fn an_unset_max_is_capped_at_the_group_limit() {
        let mut g = group("g").with_hosts(4);
        g.horizontal_pod_autoscaler = Some(GroupAutoscaler::default());
        let spec = build(g).unwrap().spec.unwrap();
        assert_eq!(spec.max_replicas, limits::MAX_PODS_PER_GROUP);
        let mut bomb = group("g").bounds(1, i32::MAX - 1).with_hosts(4);
        bomb.horizontal_pod_autoscaler = Some(GroupAutoscaler::default());
        assert!(build(bomb).is_none(), "a saturated HPA was built");
    }

    #[test]
    fn behavior_and_metrics_pass_through() {
        let mut g = group("g").bounds(1, 3);
        let behavior: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior =
            serde_json::from_value(
                serde_json::json!({"scaleDown": {"stabilizationWindowSeconds": 30}}),
            )
            .unwrap();
        let metrics: Vec<MetricSpec> = serde_json::from_value(serde_json::json!([
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 60}}}
        ])).unwrap();
        g.horizontal_pod_autoscaler = Some(GroupAutoscaler {
            metrics: Some(metrics.clone()),
            behavior: Some(behavior.clone()),
        });
        let spec = build(g).unwrap().spec.unwrap();
        assert_eq!(spec.behavior, Some(behavior));
        assert_eq!(spec.metrics, Some(metrics));
    }
}
