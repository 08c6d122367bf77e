//! A worker group's workload `<cluster>-<group>`: a StatefulSet or a
//! Deployment, as [`RayClusterSpec::effective_workload_kind`] decides.
//!
//! Role: run the group's worker pods. The pod template is the group's template
//! (or the default one) made into a Ray worker by
//! [`ray_container`], with the
//! [`wait_gcs_ready`] init container, then the [`history_collector`] and
//! the [`auth`] env, and the batch scheduler's metadata ([`batch_scheduler`]).
//!
//! Invariants:
//! - The selector is the group's three selector labels, which the template
//!   always carries and a user cannot override.
//! - A StatefulSet uses the group's headless Service as `serviceName`, so each
//!   worker has stable DNS, and manages pods in `Parallel`: a scale-up starts
//!   every new worker at once.
//! - Both follow `spec.upgradeStrategy` ([`update_strategy`]); unset, a
//!   Deployment keeps Kubernetes' default strategy (RollingUpdate).
//! - `replicas` is left unset for the apply step (clamped replicas times
//!   `numOfHosts`, or what the autoscaler asked for).
//!
//! [`RayClusterSpec::effective_workload_kind`]: crate::crd::RayClusterSpec::effective_workload_kind

use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};

use crate::{
    build::{
        BuildError, ClusterContext, auth, batch_scheduler, head_statefulset::POD_MANAGEMENT_POLICY,
        history_collector, object_meta::object_meta, ray_container, service_account, tls_pod,
        update_strategy, wait_gcs_ready,
    },
    crd::{
        WorkerGroupSpec, WorkloadKind, effective_worker_template,
        names::{self, RayNode},
    },
    desired::Object,
};

/// The workload `<cluster>-<group>` of `group`: a StatefulSet or a Deployment
/// per its effective `workloadKind`, with `replicas` left to the apply step.
///
/// # Errors
/// As [`ray_container::ray_pod_template`].
pub fn worker_workload(
    ctx: &ClusterContext<'_>,
    group: &WorkerGroupSpec,
) -> Result<Object, BuildError> {
    let node = RayNode::Worker(&group.group_name);
    let user_template = effective_worker_template(ctx.spec, group);
    let user_ray = ray_container::ray_container(&user_template, node)?.clone();
    let mut template =
        ray_container::ray_pod_template(ctx, node, user_template, Some(&group.ray_start_params))?;
    if let Some(pod) = template.spec.as_mut() {
        wait_gcs_ready::add_wait_gcs_ready(ctx, pod, &user_ray);
        history_collector::add_collector(ctx, pod, node);
        auth::add_auth(ctx, pod);
        service_account::name_in_both_fields(pod);
        if ctx.spec.tls_enabled() {
            tls_pod::add_tls(ctx, node, pod);
        }
    }
    batch_scheduler::add_pod_metadata(ctx, node, &mut template);

    let metadata = object_meta(
        ctx,
        names::worker_workload_name(ctx.name, &group.group_name),
        node,
    );
    let selector = LabelSelector {
        match_labels: Some(names::selector_labels(ctx.name, node)),
        match_expressions: None,
    };
    Ok(match ctx.spec.effective_workload_kind(group) {
        WorkloadKind::StatefulSet => Object::StatefulSet(StatefulSet {
            metadata,
            spec: Some(StatefulSetSpec {
                replicas: None,
                service_name: Some(names::worker_service_name(ctx.name, &group.group_name)),
                selector,
                pod_management_policy: Some(POD_MANAGEMENT_POLICY.to_owned()),
                template,
                volume_claim_templates: group.volume_claim_templates.clone(),
                update_strategy: update_strategy::worker_statefulset_strategy(ctx.spec),
                ..StatefulSetSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::Deployment => Object::Deployment(Deployment {
            metadata,
            spec: Some(DeploymentSpec {
                replicas: None,
                selector,
                template,
                strategy: update_strategy::deployment_strategy(ctx.spec),
                ..DeploymentSpec::default()
            }),
            status: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, test_builders::group},
        desired::Kind,
    };
    use k8s_openapi::api::core::v1::PodTemplateSpec;

    fn build(cluster: &RayCluster) -> Object {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        worker_workload(&ctx, &cluster.spec.worker_group_specs[0]).unwrap()
    }

    fn template(object: &Object) -> &PodTemplateSpec {
        match object {
            Object::StatefulSet(s) => &s.spec.as_ref().unwrap().template,
            Object::Deployment(d) => &d.spec.as_ref().unwrap().template,
            other => panic!("not a workload: {other:?}"),
        }
    }

    #[test]
    fn statefulset_by_default() {
        let object = build(&RayCluster::test("rc").with_group(group("gpu")));
        let Object::StatefulSet(sts) = &object else {
            panic!("not a StatefulSet");
        };
        assert_eq!(sts.metadata.name.as_deref(), Some("rc-gpu"));
        let spec = sts.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, None);
        assert_eq!(spec.service_name.as_deref(), Some("rc-gpu-svc"));
        assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
        assert_eq!(
            spec.selector.match_labels.as_ref().unwrap(),
            &names::selector_labels("rc", RayNode::Worker("gpu"))
        );
        let labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert_eq!(labels["ray.io/node-type"], "worker");
        assert_eq!(labels["ray.io/group"], "gpu");
    }

    #[test]
    fn deployment_with_autoscaling_or_when_asked() {
        let object = build(
            &RayCluster::test("rc")
                .with_group(group("g"))
                .with_autoscaling(),
        );
        assert_eq!(object.kind(), Kind::Deployment);
        assert_eq!(object.meta().name.as_deref(), Some("rc-g"));
        let object = build(
            &RayCluster::test("rc").with_group(group("g").with_kind(WorkloadKind::Deployment)),
        );
        assert_eq!(object.kind(), Kind::Deployment);
        let Object::Deployment(d) = object else {
            panic!("not a Deployment");
        };
        assert_eq!(d.spec.unwrap().replicas, None);
    }

    #[test]
    fn init_container_and_worker_command() {
        let object = build(&RayCluster::test("rc").with_group(group("g")));
        let pod = template(&object).spec.as_ref().unwrap();
        let init = pod.init_containers.as_ref().unwrap();
        assert_eq!(init.len(), 1);
        assert_eq!(init[0].name, "wait-gcs-ready");
        assert_eq!(init[0].image, pod.containers[0].image);
        let args = &pod.containers[0].args.as_ref().unwrap()[0];
        assert!(args.contains("--address=rc-head-svc.default.svc.cluster.local:6379"));
        assert!(!args.contains("--head"));
        // the init container sees the user's env and the head's host, not
        // the rest of rayop's
        let names: Vec<_> = init[0]
            .env
            .iter()
            .flatten()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["FQ_RAY_IP", "RAY_IP"]);
    }
}
