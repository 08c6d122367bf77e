//! The NetworkPolicies of `spec.networkPolicy`: `<cluster>-head` for the head
//! pod and `<cluster>-workers-<group>` for each worker group.
//!
//! Invariants:
//! - Without `spec.networkPolicy` there is no policy (and the apply step
//!   deletes the ones rayop made).
//! - `policyTypes` lists `Ingress` under DenyAll and DenyAllIngress, `Egress`
//!   under DenyAll and DenyAllEgress; a direction not listed has no rules.
//! - The first rule of each listed direction allows the cluster's own pods
//!   (`ray.io/cluster=<cluster>`, same namespace, all ports); the head's
//!   ingress then allows a K8sJobMode RayJob's submitter on the dashboard
//!   port; the user's rules come last, in order. A group's user rules are
//!   its `workerGroups` entry, else `worker`.
//! - DNS and API-server egress are never added.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::networking::v1::{
        NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
        NetworkPolicyPort, NetworkPolicySpec,
    },
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};

use crate::{
    build::{ClusterContext, object_meta::object_meta, ray_start},
    crd::{
        names::{self, RayNode},
        network_policy::NetworkPolicyOptions,
    },
    desired::Object,
};

/// Label of a RayCluster that a RayJob created: how it submits its job.
pub const JOB_SUBMISSION_MODE_LABEL: &str = "ray.io/job-submission-mode";
/// Value of [`JOB_SUBMISSION_MODE_LABEL`] whose submitter is a separate pod.
pub const K8S_JOB_MODE: &str = "K8sJobMode";

/// The head's policy name, `<cluster>-head`.
#[must_use]
pub fn head_policy_name(cluster: &str) -> String {
    format!("{cluster}-head")
}

/// A worker group's policy name, `<cluster>-workers-<group>`.
#[must_use]
pub fn group_policy_name(cluster: &str, group: &str) -> String {
    format!("{cluster}-workers-{group}")
}

/// The name of the RayJob that submits jobs to this cluster from a pod of
/// its own, and whose submitter may so reach the head's dashboard: the
/// cluster is labelled [`K8S_JOB_MODE`] and its controller is a `ray.io`
/// RayJob.
#[must_use]
pub fn rayjob_submitter(meta: &kube::api::ObjectMeta) -> Option<&str> {
    let mode = meta.labels.as_ref()?.get(JOB_SUBMISSION_MODE_LABEL)?;
    if mode != K8S_JOB_MODE {
        return None;
    }
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| {
            r.kind == "RayJob" && r.controller == Some(true) && r.api_version.starts_with("ray.io/")
        })
        .map(|r| r.name.as_str())
}

/// The head's policy, when `spec.networkPolicy` is set.
#[must_use]
pub fn head_policy(ctx: &ClusterContext<'_>) -> Option<Object> {
    let options = ctx.spec.network_policy.as_ref()?;
    let mut ingress = vec![own_pods_ingress(ctx)];
    if let Some(rayjob) = ctx.submitter {
        let port = ray_start::dashboard_port(ctx.head_params());
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                pod_selector: Some(match_labels([
                    (crate::crd::names::LABEL_ORIGINATED_FROM_CR_NAME, rayjob),
                    (crate::crd::names::LABEL_ORIGINATED_FROM_CRD, "RayJob"),
                ])),
                ..NetworkPolicyPeer::default()
            }]),
            ports: Some(vec![NetworkPolicyPort {
                protocol: Some("TCP".to_owned()),
                port: Some(IntOrString::Int(i32::from(port))),
                end_port: None,
            }]),
        });
    }
    let custom = options.head_rules();
    Some(policy(
        ctx,
        options,
        RayNode::Head,
        head_policy_name(ctx.name),
        ingress,
        custom,
    ))
}

/// The policy of worker group `group`, when `spec.networkPolicy` is set.
#[must_use]
pub fn group_policy(ctx: &ClusterContext<'_>, group: &str) -> Option<Object> {
    let options = ctx.spec.network_policy.as_ref()?;
    let custom = options.group_rules(group);
    Some(policy(
        ctx,
        options,
        RayNode::Worker(group),
        group_policy_name(ctx.name, group),
        vec![own_pods_ingress(ctx)],
        custom,
    ))
}

type Custom<'a> = Option<(
    &'a [NetworkPolicyIngressRule],
    &'a [NetworkPolicyEgressRule],
)>;

fn policy(
    ctx: &ClusterContext<'_>,
    options: &NetworkPolicyOptions,
    node: RayNode<'_>,
    name: String,
    mut ingress: Vec<NetworkPolicyIngressRule>,
    custom: Custom<'_>,
) -> Object {
    let mode = options.effective_mode();
    let mut types = Vec::new();
    let mut spec = NetworkPolicySpec {
        pod_selector: Some(LabelSelector {
            match_labels: Some(pod_selector(ctx.name, node)),
            match_expressions: None,
        }),
        ..NetworkPolicySpec::default()
    };
    if mode.restricts_ingress() {
        types.push("Ingress".to_owned());
        ingress.extend(custom.map(|(i, _)| i.to_vec()).unwrap_or_default());
        spec.ingress = Some(ingress);
    }
    if mode.restricts_egress() {
        types.push("Egress".to_owned());
        let mut egress = vec![NetworkPolicyEgressRule {
            to: Some(vec![own_pods(ctx)]),
            ports: None,
        }];
        egress.extend(custom.map(|(_, e)| e.to_vec()).unwrap_or_default());
        spec.egress = Some(egress);
    }
    spec.policy_types = Some(types);
    Object::NetworkPolicy(NetworkPolicy {
        metadata: object_meta(ctx, name, node),
        spec: Some(spec),
    })
}

/// The head's pods (`ray.io/cluster`, `ray.io/node-type: head`), or one
/// group's workers (plus `ray.io/group`).
fn pod_selector(cluster: &str, node: RayNode<'_>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (names::LABEL_CLUSTER.to_owned(), cluster.to_owned()),
        (
            names::LABEL_NODE_TYPE.to_owned(),
            node.node_type().to_owned(),
        ),
    ]);
    if let RayNode::Worker(group) = node {
        labels.insert(names::LABEL_GROUP.to_owned(), group.to_owned());
    }
    labels
}

fn own_pods(ctx: &ClusterContext<'_>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(match_labels([(names::LABEL_CLUSTER, ctx.name)])),
        ..NetworkPolicyPeer::default()
    }
}

fn own_pods_ingress(ctx: &ClusterContext<'_>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(vec![own_pods(ctx)]),
        ports: None,
    }
}

fn match_labels<const N: usize>(labels: [(&str, &str); N]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            labels
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ),
        match_expressions: None,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{
            RayCluster,
            network_policy::{
                NetworkPolicyMode, NetworkPolicyRules, WorkerGroupNetworkPolicyRules,
            },
            test_builders::group,
        },
    };

    fn dns_rule() -> NetworkPolicyEgressRule {
        serde_json::from_value(serde_json::json!({
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}]
        }))
        .unwrap()
    }

    fn spec_of(object: Option<Object>) -> (kube::api::ObjectMeta, NetworkPolicySpec) {
        match object {
            Some(Object::NetworkPolicy(p)) => (p.metadata, p.spec.unwrap()),
            other => panic!("not a policy: {other:?}"),
        }
    }

    fn cluster(mode: Option<NetworkPolicyMode>) -> RayCluster {
        let mut c = RayCluster::test("rc")
            .with_group(group("cpu"))
            .with_group(group("gpu"));
        c.spec.network_policy = Some(NetworkPolicyOptions {
            mode,
            head: Some(NetworkPolicyRules {
                ingress_rules: Vec::new(),
                egress_rules: vec![dns_rule()],
            }),
            worker: Some(NetworkPolicyRules {
                ingress_rules: Vec::new(),
                egress_rules: vec![dns_rule()],
            }),
            worker_groups: vec![WorkerGroupNetworkPolicyRules {
                group_name: "gpu".into(),
                ..Default::default()
            }],
        });
        c
    }

    #[test]
    fn no_policy_without_the_field() {
        let c = RayCluster::test("rc").with_group(group("cpu"));
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&c, &options).unwrap();
        assert!(head_policy(&ctx).is_none());
        assert!(group_policy(&ctx, "cpu").is_none());
    }

    #[test]
    fn deny_all_head_policy_selects_the_head_with_base_and_custom_rules() {
        let c = cluster(None);
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&c, &options).unwrap();
        let (meta, spec) = spec_of(head_policy(&ctx));
        assert_eq!(meta.name.as_deref(), Some("rc-head"));
        let labels = meta.labels.unwrap();
        assert_eq!(labels["ray.io/cluster"], "rc");
        assert_eq!(labels["ray.io/group"], "headgroup");
        assert_eq!(labels["app.kubernetes.io/name"], "kuberay");
        assert_eq!(meta.owner_references.unwrap()[0].kind, "RayCluster");
        let selector = spec.pod_selector.unwrap().match_labels.unwrap();
        assert_eq!(
            selector,
            BTreeMap::from([
                ("ray.io/cluster".to_owned(), "rc".to_owned()),
                ("ray.io/node-type".to_owned(), "head".to_owned()),
            ])
        );
        assert_eq!(spec.policy_types.unwrap(), ["Ingress", "Egress"]);
        let ingress = spec.ingress.unwrap();
        assert_eq!(ingress.len(), 1);
        let from = &ingress[0].from.as_ref().unwrap()[0];
        assert_eq!(
            from.pod_selector
                .as_ref()
                .unwrap()
                .match_labels
                .as_ref()
                .unwrap()["ray.io/cluster"],
            "rc"
        );
        assert!(from.namespace_selector.is_none() && ingress[0].ports.is_none());
        let egress = spec.egress.unwrap();
        assert_eq!(egress.len(), 2);
        assert_eq!(egress[1], dns_rule());
    }

    #[test]
    fn modes_list_only_their_directions() {
        let options = BuildOptions::default();
        let c = cluster(Some(NetworkPolicyMode::DenyAllIngress));
        let ctx = ClusterContext::new(&c, &options).unwrap();
        let (_, spec) = spec_of(head_policy(&ctx));
        assert_eq!(spec.policy_types.unwrap(), ["Ingress"]);
        assert!(spec.egress.is_none());
        let c = cluster(Some(NetworkPolicyMode::DenyAllEgress));
        let ctx = ClusterContext::new(&c, &options).unwrap();
        let (_, spec) = spec_of(group_policy(&ctx, "cpu"));
        assert_eq!(spec.policy_types.unwrap(), ["Egress"]);
        assert!(spec.ingress.is_none());
        assert_eq!(spec.egress.unwrap().len(), 2);
    }

    #[test]
    fn a_group_entry_replaces_the_worker_rules() {
        let c = cluster(None);
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&c, &options).unwrap();
        let (meta, cpu) = spec_of(group_policy(&ctx, "cpu"));
        assert_eq!(meta.name.as_deref(), Some("rc-workers-cpu"));
        assert_eq!(meta.labels.unwrap()["ray.io/group"], "cpu");
        assert_eq!(
            cpu.pod_selector.unwrap().match_labels.unwrap()["ray.io/group"],
            "cpu"
        );
        assert_eq!(cpu.egress.unwrap().len(), 2, "worker rules");
        let (_, gpu) = spec_of(group_policy(&ctx, "gpu"));
        assert_eq!(gpu.egress.unwrap().len(), 1, "its entry, with no rules");
    }

    #[test]
    fn a_k8s_job_mode_rayjob_submitter_reaches_the_dashboard() {
        let mut c = cluster(None);
        c.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            ray_start_params: [("dashboard-port".to_owned(), "9265".to_owned())].into(),
            ..Default::default()
        });
        c.metadata.labels = Some(
            [(
                JOB_SUBMISSION_MODE_LABEL.to_owned(),
                K8S_JOB_MODE.to_owned(),
            )]
            .into(),
        );
        let owner = OwnerReference {
            api_version: "ray.io/v1".into(),
            kind: "RayJob".into(),
            name: "job".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        c.metadata.owner_references = Some(vec![owner.clone()]);
        assert_eq!(rayjob_submitter(&c.metadata), Some("job"));
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&c, &options).unwrap();
        let (_, spec) = spec_of(head_policy(&ctx));
        let ingress = spec.ingress.unwrap();
        assert_eq!(ingress.len(), 2);
        let labels = ingress[1].from.as_ref().unwrap()[0]
            .pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .clone()
            .unwrap();
        assert_eq!(
            labels[crate::crd::names::LABEL_ORIGINATED_FROM_CR_NAME],
            "job"
        );
        assert_eq!(
            labels[crate::crd::names::LABEL_ORIGINATED_FROM_CRD],
            "RayJob"
        );
        let port = &ingress[1].ports.as_ref().unwrap()[0];
        assert_eq!(port.port, Some(IntOrString::Int(9265)));
        assert_eq!(port.protocol.as_deref(), Some("TCP"));

        // Not K8sJobMode, or not controlled by a RayJob: no submitter.
        let mut other = c.metadata.clone();
        other.labels = Some([(JOB_SUBMISSION_MODE_LABEL.to_owned(), "HTTPMode".to_owned())].into());
        assert_eq!(rayjob_submitter(&other), None);
        let mut other = c.metadata.clone();
        other.owner_references = Some(vec![OwnerReference {
            controller: Some(false),
            ..owner
        }]);
        assert_eq!(rayjob_submitter(&other), None);
    }
}
