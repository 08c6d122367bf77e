//! The head's StatefulSet `<cluster>-head`.
//!
//! Role: one head pod with a stable name, `<cluster>-head-0`, recreated under
//! the same name when it dies. The pod template is the head group's template
//! (or the default one) made into a Ray head by
//! [`ray_container`], plus, with in-tree
//! autoscaling, the [`autoscaler_sidecar`]
//! and its ServiceAccount, then the [`history_collector`] and the
//! [`auth`] env, which reach the sidecars too, and the batch scheduler's
//! metadata ([`batch_scheduler`]).
//!
//! Invariants: `serviceName` is the head Service; the selector is the head's
//! three selector labels, which the template always carries; pods are managed
//! in `Parallel`; `replicas` is left unset for the apply step (the machine
//! runs one head, or none while suspended).

use k8s_openapi::{
    api::apps::v1::{StatefulSet, StatefulSetSpec},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};

use crate::{
    build::{
        BuildError, ClusterContext, auth, autoscaler_sidecar, batch_scheduler, history_collector,
        object_meta::object_meta, ray_container, service_account, tls_pod, update_strategy,
    },
    crd::{
        effective_head_template,
        names::{self, RayNode},
    },
    desired::Object,
};

/// `podManagementPolicy` of every StatefulSet rayop builds: pods start and
/// stop together rather than one at a time in ordinal order.
pub const POD_MANAGEMENT_POLICY: &str = "Parallel";

/// The head StatefulSet `<cluster>-head`, with the autoscaler sidecar under
/// in-tree autoscaling, and `replicas` left to the apply step.
///
/// # Errors
/// As [`ray_container::ray_pod_template`].
pub fn head_statefulset(ctx: &ClusterContext<'_>) -> Result<Object, BuildError> {
    let mut template = ray_container::ray_pod_template(
        ctx,
        RayNode::Head,
        effective_head_template(ctx.spec),
        ctx.head_params(),
    )?;
    if ctx.spec.autoscaling_enabled()
        && let Some(pod) = template.spec.as_mut()
    {
        autoscaler_sidecar::add_autoscaler(ctx, pod);
    }
    if let Some(pod) = template.spec.as_mut() {
        history_collector::add_collector(ctx, pod, RayNode::Head);
        auth::add_auth(ctx, pod);
        service_account::name_in_both_fields(pod);
        if ctx.spec.tls_enabled() {
            tls_pod::add_tls(ctx, RayNode::Head, pod);
        }
    }
    batch_scheduler::add_pod_metadata(ctx, RayNode::Head, &mut template);
    Ok(Object::StatefulSet(StatefulSet {
        metadata: object_meta(ctx, names::head_statefulset_name(ctx.name), RayNode::Head),
        spec: Some(StatefulSetSpec {
            replicas: None,
            service_name: Some(ctx.head_service_name()),
            selector: LabelSelector {
                match_labels: Some(names::selector_labels(ctx.name, RayNode::Head)),
                match_expressions: None,
            },
            pod_management_policy: Some(POD_MANAGEMENT_POLICY.to_owned()),
            template,
            volume_claim_templates: ctx
                .spec
                .head_group_spec
                .as_ref()
                .and_then(|h| h.volume_claim_templates.clone()),
            update_strategy: update_strategy::head_statefulset_strategy(ctx.spec),
            ..StatefulSetSpec::default()
        }),
        status: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build::BuildOptions, crd::RayCluster};

    fn build(cluster: &RayCluster) -> StatefulSet {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        match head_statefulset(&ctx).unwrap() {
            Object::StatefulSet(sts) => sts,
            other => panic!("not a StatefulSet: {other:?}"),
        }
    }

    #[test]
    fn names_selector_and_policy() {
        let sts = build(&RayCluster::test("rc"));
        assert_eq!(sts.metadata.name.as_deref(), Some("rc-head"));
        let spec = sts.spec.unwrap();
        assert_eq!(spec.replicas, None);
        assert_eq!(spec.service_name.as_deref(), Some("rc-head-svc"));
        assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
        let selector = spec.selector.match_labels.unwrap();
        let labels = spec.template.metadata.unwrap().labels.unwrap();
        for (key, value) in &selector {
            assert_eq!(labels.get(key), Some(value), "{key}");
        }
        assert_eq!(selector.len(), 3);
        assert_eq!(labels["ray.io/is-ray-node"], "yes");
    }

    #[test]
    fn the_governing_service_is_the_custom_head_service() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            head_service: Some(k8s_openapi::api::core::v1::Service {
                metadata: kube::api::ObjectMeta {
                    name: Some("my-head".into()),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        });
        let spec = build(&cluster).spec.unwrap();
        assert_eq!(spec.service_name.as_deref(), Some("my-head"));
    }

    #[test]
    fn no_sidecar_without_autoscaling() {
        let sts = build(&RayCluster::test("rc"));
        let pod = sts.spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.containers.len(), 1);
        assert_eq!(pod.service_account_name, None);
        let args = &pod.containers[0].args.as_ref().unwrap()[0];
        assert!(!args.contains("--no-monitor"));
    }

    #[test]
    fn autoscaling_adds_the_sidecar_and_no_monitor() {
        let sts = build(&RayCluster::test("rc").with_autoscaling());
        let pod = sts.spec.unwrap().template.spec.unwrap();
        let names: Vec<_> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ray-head", "autoscaler"]);
        assert_eq!(pod.service_account_name.as_deref(), Some("rc"));
        let args = &pod.containers[0].args.as_ref().unwrap()[0];
        assert!(args.contains(" --no-monitor"), "{args}");
    }
}
