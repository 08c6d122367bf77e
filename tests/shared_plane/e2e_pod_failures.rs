//! Pod-level failures reach the user on the RayCluster, on the local
//! control plane (real API server, StatefulSet controller and scheduler):
//!
//! - a head template naming a ServiceAccount that does not exist: the
//!   StatefulSet controller's FailedCreate becomes `ReplicaFailure`
//!   (`FailedCreateHeadPod`) naming `serviceAccountName`, and a Warning
//!   Event; fixing the template clears it;
//! - a head no node can take (5,000,000 CPUs): `HeadPodReady` carries the
//!   scheduler's message and `status.reason` says so, announced once
//!   however often the cluster is reconciled;
//! - a Deployment group whose pods cannot be created: the Deployment's
//!   `ReplicaFailure` condition becomes `FailedCreateWorkerPod`;
//! - a worker template the API server refuses: `ReplicaFailure` names the
//!   RayCluster field (`spec.workerGroupSpecs[1]...`), not the StatefulSet's.
//!
//! Image pulls and crash loops cannot happen on kwok's fake nodes; they are
//! covered by unit tests on real Pod objects (tests/fixtures/k8s/pods).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::support::*;
use anyhow::{Result, ensure};
use k8s_openapi::{api::core::v1::PodTemplateSpec, apimachinery::pkg::apis::meta::v1::Condition};
use rayop::{
    controller::Settings,
    crd::{RayCluster, WorkloadKind, test_builders::group},
    record::Record,
};
use rayop_machines::Command;
use rayop_testenv::wait_until;

/// The head's effective template with `edit` applied.
fn with_head_template(
    mut c: RayCluster,
    edit: impl FnOnce(&mut PodTemplateSpec) -> Result<()>,
) -> Result<RayCluster> {
    let mut template = rayop::crd::effective_head_template(&c.spec);
    edit(&mut template)?;
    c.spec
        .head_group_spec
        .get_or_insert_with(Default::default)
        .template = Some(template);
    Ok(c)
}

/// The condition `kind` of `name`, once `test` holds for it.
async fn wait_condition(
    client: &kube::Client,
    ns: &str,
    name: &str,
    kind: &str,
    test: impl Fn(&Condition) -> bool,
) -> Result<Condition> {
    let api = clusters(client, ns);
    let test = &test;
    let api = &api;
    wait_until(
        &format!("{ns}/{name} condition {kind}"),
        TIMEOUT,
        || async move {
            let c = api.get(name).await?;
            Ok(c.status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == kind))
                .is_some_and(test))
        },
    )
    .await?;
    let c = api.get(name).await?;
    let status = must(c.status, "a status")?;
    must(
        status.conditions.into_iter().find(|c| c.type_ == kind),
        "the condition",
    )
}

fn announced(op: &Operator, uid: &str, reason: &str) -> usize {
    op.records(uid)
        .iter()
        .filter_map(|r| match r {
            Record::Commands(commands) => Some(commands.clone()),
            _ => None,
        })
        .flatten()
        .filter(|c| matches!(c, Command::Announce(n) if n.reason == reason))
        .count()
}

fn reconciles(op: &Operator) -> u64 {
    op.handles
        .metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("rayop_reconciles_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_service_account_is_named_on_the_raycluster() -> Result<()> {
    let (env, ns) = setup("pods-sa").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let c = with_head_template(cluster(RayCluster::test("nosa"), &ns), |t| {
        must(t.spec.as_mut(), "a pod spec")?.service_account_name = Some("nope".into());
        Ok(())
    })?;
    create(&client, &c).await?;

    let failure = wait_condition(&client, &ns, "nosa", "ReplicaFailure", |c| {
        c.status == "True" && c.reason == "FailedCreateHeadPod"
    })
    .await?;
    ensure!(
        failure
            .message
            .starts_with("spec.headGroupSpec.template.spec.serviceAccountName: "),
        "names the field first: {}",
        failure.message
    );
    ensure!(
        failure.message.contains("\"nope\"")
            && failure
                .message
                .contains("FailedCreate from StatefulSet nosa-head"),
        "keeps the controller's text as detail: {}",
        failure.message
    );
    let live = clusters(&client, &ns).get("nosa").await?;
    let reason = live.status.and_then(|s| s.reason).unwrap_or_default();
    ensure!(
        reason.starts_with(
            "FailedCreateHeadPod: spec.headGroupSpec.template.spec.serviceAccountName"
        ),
        "status.reason: {reason}"
    );
    wait_event(&client, &ns, "a FailedCreateHeadPod Warning", |e| {
        e.reason.as_deref() == Some("FailedCreateHeadPod")
            && e.type_.as_deref() == Some("Warning")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("serviceAccountName"))
    })
    .await?;

    // Removing the account from the template lets the StatefulSet create
    // the pod; the condition goes. (rayop applies the name in the deprecated
    // serviceAccount too, or the API server would copy it back from there.)
    patch_spec(
        &client,
        &ns,
        "nosa",
        serde_json::json!({"headGroupSpec": {"template": {"spec": {"serviceAccountName": null}}}}),
    )
    .await?;
    let api = clusters(&client, &ns);
    wait_until("ReplicaFailure cleared", TIMEOUT, || async {
        let c = api.get("nosa").await?;
        Ok(c.status
            .is_some_and(|s| !s.conditions.iter().any(|c| c.type_ == "ReplicaFailure")))
    })
    .await?;
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_head_carries_the_schedulers_message_once() -> Result<()> {
    let (env, ns) = setup("pods-sched").await?;
    let client = env.client();
    let settings = Settings {
        resync: Duration::from_secs(2),
        ..Settings::default()
    };
    let op = Operator::start_with(
        client.clone(),
        &[&ns],
        rayop_journal::Options::default(),
        settings,
    )
    .await?;
    let c = with_head_template(cluster(RayCluster::test("huge"), &ns), |t| {
        let container = t.spec.as_mut().and_then(|s| s.containers.first_mut());
        must(container, "the head container")?.resources = Some(serde_json::from_value(
            serde_json::json!({"requests": {"cpu": "5000000"}}),
        )?);
        Ok(())
    })?;
    let created = create(&client, &c).await?;

    let head = wait_condition(&client, &ns, "huge", "HeadPodReady", |c| {
        c.reason == "Unschedulable"
    })
    .await?;
    ensure!(head.status == "False", "{head:?}");
    ensure!(
        head.message.contains("nodes are available") && head.message.contains("cpu"),
        "the scheduler's message: {}",
        head.message
    );
    ensure!(
        head.message
            .contains("(spec.headGroupSpec.template.spec resources/nodeSelector"),
        "names the field: {}",
        head.message
    );
    let live = clusters(&client, &ns).get("huge").await?;
    let reason = live.status.and_then(|s| s.reason).unwrap_or_default();
    ensure!(
        reason.starts_with("Unschedulable: head pod huge-head-0 is Unschedulable"),
        "status.reason: {reason}"
    );
    wait_event(&client, &ns, "an Unschedulable Warning", |e| {
        e.reason.as_deref() == Some("Unschedulable") && e.type_.as_deref() == Some("Warning")
    })
    .await?;

    // More reconciles (the resync is 2 s) announce nothing more.
    let before = reconciles(&op);
    wait_until("three more reconciles", TIMEOUT, || async {
        Ok(reconciles(&op) >= before + 3)
    })
    .await?;
    let times = announced(&op, &uid(&created), "Unschedulable");
    ensure!(times == 1, "Unschedulable announced {times} times");
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_worker_template_names_the_raycluster_field() -> Result<()> {
    let (env, ns) = setup("pods-invalid").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let mut c = cluster(
        RayCluster::test("refused")
            .with_workers(1)
            .with_group(group("gpu").with_replicas(1)),
        &ns,
    );
    let mut template =
        rayop::crd::effective_worker_template(&c.spec, &c.spec.worker_group_specs[1]);
    let container = template
        .spec
        .as_mut()
        .and_then(|s| s.containers.first_mut());
    // An env var whose valueFrom names no source: the API server refuses
    // it, no RayCluster schema does.
    must(container, "the worker container")?.env = Some(vec![serde_json::from_value(
        serde_json::json!({"name": "BROKEN", "valueFrom": {}}),
    )?]);
    c.spec.worker_group_specs[1].template = Some(template);
    create(&client, &c).await?;

    let failure = wait_condition(&client, &ns, "refused", "ReplicaFailure", |c| {
        c.status == "True" && c.reason == "FailedApplyWorkers"
    })
    .await?;
    ensure!(
        failure
            .message
            .contains("spec.workerGroupSpecs[1].template.spec.containers[0].env[0].valueFrom"),
        "names the RayCluster field: {}",
        failure.message
    );
    ensure!(
        failure
            .message
            .contains("(the API server refused StatefulSet refused-gpu"),
        "keeps the API server's text as detail: {}",
        failure.message
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_group_that_cannot_create_pods_is_named() -> Result<()> {
    let (env, ns) = setup("pods-deploy").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let mut c = cluster(
        RayCluster::test("ghost").with_group(
            group("dep")
                .with_replicas(1)
                .with_kind(WorkloadKind::Deployment),
        ),
        &ns,
    );
    let mut template =
        rayop::crd::effective_worker_template(&c.spec, &c.spec.worker_group_specs[0]);
    must(template.spec.as_mut(), "a pod spec")?.service_account_name = Some("ghost".into());
    c.spec.worker_group_specs[0].template = Some(template);
    create(&client, &c).await?;

    // The Deployment controller copies its ReplicaSet's ReplicaFailure
    // condition into the Deployment's status, which rayop's cache holds.
    let failure = wait_condition(&client, &ns, "ghost", "ReplicaFailure", |c| {
        c.status == "True" && c.reason == "FailedCreateWorkerPod"
    })
    .await?;
    ensure!(
        failure
            .message
            .starts_with("spec.workerGroupSpecs[0].template.spec.serviceAccountName: ")
            && failure
                .message
                .contains("FailedCreate from Deployment ghost-dep"),
        "{}",
        failure.message
    );
    op.stop().await
}
