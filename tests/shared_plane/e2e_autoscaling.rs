//! Autoscaling end to end: the RayCluster driven exactly as Ray's autoscaler
//! drives it (JSON patches of `replicas` and `scaleStrategy`), HPAs, the
//! autoscaler's RBAC, and a GitOps re-apply that must not fight either.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::BTreeMap, time::Duration};

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::{
    apps::v1::StatefulSet, autoscaling::v2::HorizontalPodAutoscaler, core::v1::Pod,
    core::v1::Secret,
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use rayop::crd::{RayCluster, status::Phase, test_builders::group, worker_group::GroupAutoscaler};
use rayop_testenv::{TestEnv, wait_until};

/// The autoscaler's write: a JSON patch (`application/json-patch+json`).
async fn autoscaler_patch(
    client: &Client,
    ns: &str,
    name: &str,
    ops: serde_json::Value,
) -> Result<()> {
    let patch: json_patch::Patch = serde_json::from_value(ops)?;
    clusters(client, ns)
        .patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await?;
    Ok(())
}

fn autoscaled(name: &str, replicas: i32) -> RayCluster {
    RayCluster::test(name)
        .with_group(group("small").with_replicas(replicas).bounds(1, 3))
        .with_autoscaling()
}

async fn worker_names(
    client: &Client,
    ns: &str,
    cluster: &str,
) -> Result<BTreeMap<String, String>> {
    Ok(pods(client, ns, cluster, "worker")
        .await?
        .into_iter()
        .map(|p| (p.name_any(), p.uid().unwrap_or_default()))
        .collect())
}

async fn wait_workers(client: &Client, ns: &str, cluster: &str, n: usize) -> Result<()> {
    wait_until(
        &format!("{cluster} at {n} Ready workers"),
        TIMEOUT,
        || async {
            let c = clusters(client, ns).get(cluster).await?;
            let ready = c.status.as_ref().and_then(|s| s.ready_worker_replicas);
            Ok(worker_names(client, ns, cluster).await?.len() == n
                && ready == Some(i32::try_from(n)?)
                && c.status.and_then(|s| s.phase) == Some(Phase::Ready))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autoscaler_scales_up_then_removes_exactly_the_named_pod() -> Result<()> {
    let (env, ns) = setup("as-target").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    create(&client, &cluster(autoscaled("as", 1), &ns)).await?;
    wait_workers(&client, &ns, "as", 1).await?;

    autoscaler_patch(
        &client,
        &ns,
        "as",
        serde_json::json!([
            { "op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 3 }
        ]),
    )
    .await?;
    wait_workers(&client, &ns, "as", 3).await?;

    let before = worker_names(&client, &ns, "as").await?;
    let middle = before.keys().nth(1).cloned().unwrap();
    autoscaler_patch(&client, &ns, "as", serde_json::json!([
        { "op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2 },
        { "op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": { "workersToDelete": [middle] } }
    ])).await?;
    wait_workers(&client, &ns, "as", 2).await?;
    let after = worker_names(&client, &ns, "as").await?;
    let mut expected = before.clone();
    expected.remove(&middle);
    assert_eq!(
        after, expected,
        "exactly {middle} went; the others kept their names and UIDs"
    );

    // The autoscaler gives up on a worker and wants a replacement: it names
    // the pod and keeps the count. The pod goes and a new one takes its
    // place; the other is untouched.
    let (doomed, doomed_uid) = after
        .iter()
        .next()
        .map(|(n, u)| (n.clone(), u.clone()))
        .unwrap();
    autoscaler_patch(&client, &ns, "as", serde_json::json!([
        { "op": "replace", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": { "workersToDelete": [doomed] } }
    ])).await?;
    wait_until("the named pod replaced", TIMEOUT, || async {
        let now = worker_names(&client, &ns, "as").await?;
        let c = clusters(&client, &ns).get("as").await?;
        Ok(now.len() == 2
            && now.get(&doomed) != Some(&doomed_uid)
            && after
                .iter()
                .all(|(n, u)| *n == doomed || now.get(n) == Some(u))
            && c.status.and_then(|s| s.phase) == Some(Phase::Ready))
    })
    .await?;
    let c = clusters(&client, &ns).get("as").await?;
    let story = serde_json::to_string(&op.records(&c.uid().unwrap_or_default()))?;
    assert!(
        story.contains("NamedForRemoval") && story.contains(&doomed),
        "the journal holds the decision to delete {doomed}"
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autoscalers_replicas_are_clamped_to_max() -> Result<()> {
    let (env, ns) = setup("as-clamp").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    create(&client, &cluster(autoscaled("cl", 1), &ns)).await?;
    wait_workers(&client, &ns, "cl", 1).await?;
    autoscaler_patch(
        &client,
        &ns,
        "cl",
        serde_json::json!([
            { "op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 10 }
        ]),
    )
    .await?;
    wait_workers(&client, &ns, "cl", 3).await?;
    let reason = clusters(&client, &ns)
        .get("cl")
        .await?
        .status
        .and_then(|s| s.reason)
        .unwrap_or_default();
    assert!(reason.contains("ReplicasClamped"), "{reason}");
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_owns_the_group_replicas_and_rayop_never_writes_them() -> Result<()> {
    let (env, ns) = setup("hpa").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let mut g = group("small").with_replicas(2).bounds(1, 4);
    g.horizontal_pod_autoscaler = Some(GroupAutoscaler::default());
    create(&client, &cluster(RayCluster::test("hp").with_group(g), &ns)).await?;

    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &ns);
    wait_until("the HPA exists", TIMEOUT, || async {
        Ok(hpas.get_opt("hp-small").await?.is_some())
    })
    .await?;
    let spec = hpas.get("hp-small").await?.spec.unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(1), 4));
    assert_eq!(spec.scale_target_ref.name, "hp-small");
    wait_phase(&client, &ns, "hp", Phase::Ready).await?;

    // The HPA (not rayop) owns spec.replicas of the workload.
    let sts = must(
        statefulset(&client, &ns, "hp-small").await?,
        "worker StatefulSet",
    )?;
    let rayop_fields = sts
        .metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.manager.as_deref() == Some("rayop"))
        .map(|m| serde_json::to_string(&m.fields_v1).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("");
    assert!(!rayop_fields.is_empty(), "rayop manages the StatefulSet");
    assert!(
        !rayop_fields.contains("f:replicas"),
        "rayop owns no replicas: {rayop_fields}"
    );
    let hpa_replicas = sts.spec.unwrap().replicas;

    // A spec change of replicas is ignored for the workload: the HPA decides.
    let writes = op.writes();
    patch_spec(&client, &ns, "hp", serde_json::json!({ "workerGroupSpecs": [{
        "groupName": "small", "replicas": 4, "minReplicas": 1, "maxReplicas": 4, "horizontalPodAutoscaler": {} }] })).await?;
    wait_until("the new generation observed", TIMEOUT, || async {
        let c = clusters(&client, &ns).get("hp").await?;
        Ok(c.status.and_then(|s| s.observed_generation) == c.metadata.generation)
    })
    .await?;
    let sts = must(
        statefulset(&client, &ns, "hp-small").await?,
        "worker StatefulSet",
    )?;
    assert_eq!(
        sts.spec.unwrap().replicas,
        hpa_replicas,
        "rayop left replicas to the HPA"
    );
    assert!(op.writes() >= writes);
    op.stop().await
}

async fn impersonating(env: &TestEnv, user: &str) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(env.kubeconfig())?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    config.auth_info.impersonate = Some(user.to_owned());
    Ok(Client::try_from(config)?)
}

fn forbidden<T>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(s)) if s.code == 403)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autoscalers_rbac_grants_its_needs_and_nothing_more() -> Result<()> {
    let (env, ns) = setup("as-rbac").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    create(&client, &cluster(autoscaled("rb", 1), &ns)).await?;
    wait_workers(&client, &ns, "rb", 1).await?;
    let sa = impersonating(&env, &format!("system:serviceaccount:{ns}:rb")).await?;

    // What the Ray autoscaler does.
    autoscaler_patch(
        &sa,
        &ns,
        "rb",
        serde_json::json!([
            { "op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2 }
        ]),
    )
    .await?;
    clusters(&sa, &ns).get("rb").await?;
    let pods: Api<Pod> = Api::namespaced(sa.clone(), &ns);
    let listed = pods.list(&ListParams::default()).await?;
    assert!(!listed.items.is_empty());
    let one = listed.items[0].name_any();
    pods.patch(
        &one,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"touched": "yes"}}})),
    )
    .await?;

    // Nothing beyond.
    assert!(
        forbidden(pods.delete(&one, &DeleteParams::default()).await),
        "delete pods"
    );
    assert!(
        forbidden(
            Api::<Secret>::namespaced(sa.clone(), &ns)
                .list(&ListParams::default())
                .await
        ),
        "list secrets"
    );
    assert!(
        forbidden(
            Api::<StatefulSet>::namespaced(sa.clone(), &ns)
                .list(&ListParams::default())
                .await
        ),
        "list statefulsets"
    );
    assert!(
        forbidden(
            clusters(&sa, &ns)
                .delete("rb", &DeleteParams::default())
                .await
        ),
        "delete the RayCluster"
    );
    assert!(
        forbidden(
            Api::<Pod>::namespaced(sa.clone(), "default")
                .list(&ListParams::default())
                .await
        ),
        "other namespaces"
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitops_reapply_without_replicas_does_not_fight_the_autoscaler() -> Result<()> {
    let (env, ns) = setup("gitops").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    // The manifest as a GitOps tool keeps it: no replicas, the autoscaler owns them.
    let manifest = serde_json::json!({
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": { "name": "go", "namespace": ns },
        "spec": {
            "enableInTreeAutoscaling": true,
            "workerGroupSpecs": [{ "groupName": "small", "minReplicas": 1, "maxReplicas": 3 }],
        },
    });
    let gitops = PatchParams::apply("gitops").force();
    clusters(&client, &ns)
        .patch("go", &gitops, &Patch::Apply(&manifest))
        .await?;
    wait_workers(&client, &ns, "go", 1).await?;
    autoscaler_patch(
        &client,
        &ns,
        "go",
        serde_json::json!([
            { "op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 3 }
        ]),
    )
    .await?;
    wait_workers(&client, &ns, "go", 3).await?;

    // The GitOps tool syncs again: the autoscaler's replicas stay.
    clusters(&client, &ns)
        .patch("go", &gitops, &Patch::Apply(&manifest))
        .await?;
    let replicas = clusters(&client, &ns)
        .get("go")
        .await?
        .spec
        .worker_group_specs[0]
        .replicas;
    assert_eq!(
        replicas, 3,
        "the re-apply did not reset the autoscaler's replicas"
    );
    wait_workers(&client, &ns, "go", 3).await?;
    // No write loop: rayop's writes settle and stay still.
    let mut last = op.writes();
    wait_until("writes settle", TIMEOUT, || {
        let now = op.writes();
        let settled = now == last;
        last = now;
        async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(settled)
        }
    })
    .await?;
    let quiet = op.writes();
    clusters(&client, &ns)
        .patch("go", &gitops, &Patch::Apply(&manifest))
        .await?;
    wait_workers(&client, &ns, "go", 3).await?;
    assert_eq!(
        clusters(&client, &ns)
            .get("go")
            .await?
            .spec
            .worker_group_specs[0]
            .replicas,
        3
    );
    assert!(
        op.writes() - quiet <= 1,
        "at most a status write after a no-op re-apply"
    );
    op.stop().await
}
