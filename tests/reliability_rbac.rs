//! A denied RBAC verb: rayop runs as a ServiceAccount (impersonated from the
//! admin kubeconfig) bound to a Role that is rayop's published ClusterRole
//! (`deploy/manifests/cluster/clusterrole.yaml`) minus `create` on
//! StatefulSets. The cluster's status (ReplicaFailure) and a Warning Event
//! must say what was denied, the in-process operator keeps running, and its
//! writes stay bounded (no crash loop, no hot loop).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::{
    core::v1::ServiceAccount,
    rbac::v1::{PolicyRule, Role, RoleBinding},
};
use kube::{
    Api, Client,
    api::PostParams,
    config::{KubeConfigOptions, Kubeconfig},
};
use rayop::crd::{RayCluster, test_builders::group};
use rayop_testenv::{TestEnv, wait_until};
use serde_json::json;
use support::*;

async fn impersonating(env: &TestEnv, user: &str) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(env.kubeconfig())?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    config.auth_info.impersonate = Some(user.to_owned());
    Ok(Client::try_from(config)?)
}

/// rayop's ClusterRole rules, with `create` removed on statefulsets.
fn rules_without_statefulset_create() -> Vec<PolicyRule> {
    let text =
        std::fs::read_to_string(repo().join("deploy/manifests/cluster/clusterrole.yaml")).unwrap();
    let role: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let rules: Vec<PolicyRule> =
        serde_json::from_value(serde_json::to_value(&role["rules"]).unwrap()).unwrap();
    let mut out = Vec::new();
    for rule in rules {
        let resources = rule.resources.clone().unwrap_or_default();
        if resources.iter().any(|r| r == "statefulsets") {
            let others: Vec<String> = resources
                .iter()
                .filter(|r| *r != "statefulsets")
                .cloned()
                .collect();
            if !others.is_empty() {
                out.push(PolicyRule {
                    resources: Some(others),
                    ..rule.clone()
                });
            }
            out.push(PolicyRule {
                resources: Some(vec!["statefulsets".into()]),
                verbs: rule
                    .verbs
                    .iter()
                    .filter(|v| *v != "create")
                    .cloned()
                    .collect(),
                ..rule
            });
        } else {
            out.push(rule);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_verb_is_reported_in_status_and_events_without_a_crash_loop() -> Result<()> {
    let (env, ns) = setup("rbac").await?;
    let admin = env.client();
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "rayop"}}))?;
    Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &sa)
        .await?;
    let role = Role {
        metadata: kube::api::ObjectMeta {
            name: Some("rayop".into()),
            ..Default::default()
        },
        rules: Some(rules_without_statefulset_create()),
    };
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "rayop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rayop"},
        "subjects": [{"kind": "ServiceAccount", "name": "rayop", "namespace": ns}]
    }))?;
    Api::<RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let client = impersonating(&env, &format!("system:serviceaccount:{ns}:rayop")).await?;
    let op = Operator::start(client, &[&ns]).await?;

    create(
        &admin,
        &cluster(
            RayCluster::test("denied").with_group(group("small").with_replicas(1).bounds(0, 2)),
            &ns,
        ),
    )
    .await?;
    let api = clusters(&admin, &ns);
    wait_until(
        "a ReplicaFailure condition naming the denial",
        TIMEOUT,
        || async {
            let c = api.get("denied").await?;
            Ok(c.status.unwrap_or_default().conditions.iter().any(|c| {
                c.type_ == "ReplicaFailure"
                    && c.status == "True"
                    && c.message.contains("forbidden")
                    && c.message.contains("statefulsets")
            }))
        },
    )
    .await?;
    wait_event(&admin, &ns, "a Warning Event naming the denial", |e| {
        e.type_.as_deref() == Some("Warning")
            && e.involved_object.name.as_deref() == Some("denied")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("forbidden") && m.contains("statefulsets"))
    })
    .await?;

    // Still running, and not hammering the API server: writes over 10 s.
    let before = op.writes();
    tokio::time::sleep(Duration::from_secs(10)).await; // the measurement window
    let window = op.writes() - before;
    assert!(window <= 10, "{window} writes in 10 s while denied");
    assert!(
        statefulset(&admin, &ns, "denied-head").await?.is_none(),
        "created despite the denial"
    );
    eprintln!("rbac: {window} writes in 10 s while denied");
    op.stop().await
}
