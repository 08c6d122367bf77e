//! `spec.networkPolicy` on a live control plane: rayop creates `<c>-head`
//! and one `<c>-workers-<group>` NetworkPolicy per group, with the base rule
//! first and the custom rules after it; a `workerGroups` entry replaces
//! `worker` for its group; `mode` decides `policyTypes`; a policy changed by
//! hand is changed back; a removed group's policy and, when the field is
//! removed, every policy are deleted. Rules for a direction the mode does not
//! restrict are refused naming the field, and a same-named NetworkPolicy that
//! is not the cluster's is reported as a NameConflict and left alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule};
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use rayop::crd::{
    RayCluster,
    network_policy::{
        NetworkPolicyMode, NetworkPolicyOptions, NetworkPolicyRules, WorkerGroupNetworkPolicyRules,
    },
    status::Phase,
    test_builders::group,
};
use rayop_testenv::wait_until;
use serde_json::json;

fn dns() -> NetworkPolicyEgressRule {
    serde_json::from_value(json!({
        "to": [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
        }],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    }))
    .unwrap()
}

fn https() -> NetworkPolicyEgressRule {
    serde_json::from_value(json!({
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"port": 443, "protocol": "TCP"}]
    }))
    .unwrap()
}

fn types(p: &NetworkPolicy) -> Vec<String> {
    p.spec.clone().unwrap().policy_types.unwrap_or_default()
}

fn egress(p: &NetworkPolicy) -> Vec<NetworkPolicyEgressRule> {
    p.spec.clone().unwrap().egress.unwrap_or_default()
}

async fn policy(api: &Api<NetworkPolicy>, name: &str) -> Result<NetworkPolicy> {
    wait_until(&format!("NetworkPolicy {name}"), TIMEOUT, || async {
        Ok(api.get_opt(name).await?.is_some())
    })
    .await?;
    Ok(api.get(name).await?)
}

async fn until_policy(
    api: &Api<NetworkPolicy>,
    what: &str,
    name: &str,
    test: impl Fn(&NetworkPolicy) -> bool,
) -> Result<()> {
    let test = &test;
    wait_until(what, TIMEOUT, || async move {
        Ok(api.get_opt(name).await?.as_ref().is_some_and(test))
    })
    .await
}

async fn gone(api: &Api<NetworkPolicy>, name: &str) -> Result<()> {
    wait_until(
        &format!("NetworkPolicy {name} deleted"),
        TIMEOUT,
        || async { Ok(api.get_opt(name).await?.is_none()) },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_follow_mode_rules_groups_and_removal() -> Result<()> {
    let (env, ns) = setup("netpol").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);

    let mut c = RayCluster::test("np")
        .with_group(group("cpu").with_replicas(1).bounds(0, 2))
        .with_group(group("gpu").with_replicas(1).bounds(0, 2));
    c.spec.network_policy = Some(NetworkPolicyOptions {
        mode: None,
        head: Some(NetworkPolicyRules {
            ingress_rules: Vec::new(),
            egress_rules: vec![dns()],
        }),
        worker: Some(NetworkPolicyRules {
            ingress_rules: Vec::new(),
            egress_rules: vec![dns()],
        }),
        worker_groups: vec![WorkerGroupNetworkPolicyRules {
            group_name: "gpu".into(),
            ingress_rules: Vec::new(),
            egress_rules: vec![https()],
        }],
    });
    create(&client, &cluster(c, &ns)).await?;
    wait_phase(&client, &ns, "np", Phase::Ready).await?;

    // DenyAll (the default): both directions, base rule first.
    let head = policy(&api, "np-head").await?;
    assert_eq!(types(&head), ["Ingress", "Egress"]);
    let spec = head.spec.clone().unwrap();
    let selector = spec.pod_selector.clone().unwrap().match_labels.unwrap();
    assert_eq!(selector["ray.io/cluster"], "np");
    assert_eq!(selector["ray.io/node-type"], "head");
    let ingress = spec.ingress.unwrap();
    assert_eq!(ingress.len(), 1, "only the cluster's own pods may come in");
    let own = ingress[0].from.as_ref().unwrap()[0]
        .pod_selector
        .as_ref()
        .unwrap()
        .match_labels
        .clone()
        .unwrap();
    assert_eq!(own["ray.io/cluster"], "np");
    let head_egress = egress(&head);
    assert_eq!(head_egress.len(), 2);
    assert_eq!(
        head_egress[1].ports,
        dns().ports,
        "the custom DNS rule comes after the base rule"
    );
    let labels = head.metadata.labels.clone().unwrap();
    assert_eq!(labels["ray.io/group"], "headgroup");
    assert_eq!(
        head.metadata.owner_references.unwrap()[0].kind,
        "RayCluster"
    );

    let cpu = policy(&api, "np-workers-cpu").await?;
    assert_eq!(
        cpu.spec
            .clone()
            .unwrap()
            .pod_selector
            .unwrap()
            .match_labels
            .unwrap()["ray.io/group"],
        "cpu"
    );
    assert_eq!(egress(&cpu)[1].ports, dns().ports, "the worker rules");
    let gpu = policy(&api, "np-workers-gpu").await?;
    let gpu_egress = egress(&gpu);
    assert_eq!(gpu_egress.len(), 2, "its entry replaces the worker rules");
    assert_eq!(gpu_egress[1].ports, https().ports);

    // A hand edit is changed back.
    api.patch(
        "np-head",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"podSelector": {"matchLabels": {"ray.io/node-type": "worker"}}}}),
        ),
    )
    .await?;
    until_policy(
        &api,
        "the head policy's selector reverted",
        "np-head",
        |p| {
            p.spec
                .clone()
                .unwrap()
                .pod_selector
                .unwrap()
                .match_labels
                .unwrap()["ray.io/node-type"]
                == "head"
        },
    )
    .await?;

    // DenyAllIngress: only Ingress, no egress rules at all.
    patch_spec(
        &client,
        &ns,
        "np",
        json!({"networkPolicy": {"mode": "DenyAllIngress", "head": null, "worker": null, "workerGroups": null}}),
    )
    .await?;
    for name in ["np-head", "np-workers-cpu", "np-workers-gpu"] {
        until_policy(&api, &format!("{name} denies ingress only"), name, |p| {
            types(p) == ["Ingress"] && p.spec.clone().unwrap().egress.is_none()
        })
        .await?;
    }

    // DenyAllEgress: only Egress, the base egress rule.
    patch_spec(
        &client,
        &ns,
        "np",
        json!({"networkPolicy": {"mode": "DenyAllEgress"}}),
    )
    .await?;
    until_policy(&api, "np-head denies egress only", "np-head", |p| {
        types(p) == ["Egress"] && p.spec.clone().unwrap().ingress.is_none() && egress(p).len() == 1
    })
    .await?;

    // A removed group takes its policy along.
    patch_spec(
        &client,
        &ns,
        "np",
        json!({"workerGroupSpecs": [{"groupName": "cpu", "replicas": 1, "minReplicas": 0, "maxReplicas": 2}]}),
    )
    .await?;
    gone(&api, "np-workers-gpu").await?;
    assert!(api.get_opt("np-workers-cpu").await?.is_some());

    // Removing networkPolicy deletes every policy.
    patch_spec(&client, &ns, "np", json!({"networkPolicy": null})).await?;
    gone(&api, "np-head").await?;
    gone(&api, "np-workers-cpu").await?;
    wait_phase(&client, &ns, "np", Phase::Ready).await?;
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_are_refused_and_foreign_policies_left_alone() -> Result<()> {
    let (env, ns) = setup("netpol-bad").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);

    // Ingress rules under DenyAllEgress: refused, naming the field.
    let mut bad = RayCluster::test("bad").with_workers(1);
    bad.spec.network_policy = Some(NetworkPolicyOptions {
        mode: Some(NetworkPolicyMode::DenyAllEgress),
        head: Some(NetworkPolicyRules {
            ingress_rules: vec![Default::default()],
            egress_rules: Vec::new(),
        }),
        ..NetworkPolicyOptions::default()
    });
    create(&client, &cluster(bad, &ns)).await?;
    let c = wait_phase(&client, &ns, "bad", Phase::Pending).await?;
    let condition = c
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "InvalidSpec")
        .unwrap();
    assert!(
        condition
            .message
            .contains("spec.networkPolicy.head.ingressRules"),
        "names the field: {}",
        condition.message
    );
    assert!(api.get_opt("bad-head").await?.is_none());

    // A policy under the head policy's name that is someone else's.
    let theirs: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "taken-head"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}
    }))?;
    api.create(&PostParams::default(), &theirs).await?;
    let mut taken = RayCluster::test("taken").with_workers(1);
    taken.spec.network_policy = Some(NetworkPolicyOptions::default());
    create(&client, &cluster(taken, &ns)).await?;
    wait_event(&client, &ns, "a NameConflict naming taken-head", |e| {
        e.reason.as_deref() == Some("NameConflict")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("NetworkPolicy taken-head"))
    })
    .await?;
    let still = api.get("taken-head").await?;
    assert!(still.metadata.owner_references.is_none());
    assert_eq!(
        still
            .spec
            .unwrap()
            .pod_selector
            .unwrap()
            .match_labels
            .unwrap()["app"],
        "web"
    );
    op.stop().await
}
