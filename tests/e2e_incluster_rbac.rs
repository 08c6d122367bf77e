//! Least privilege is enough: the operator runs as the deploy/
//! ServiceAccount, with a token minted through the TokenRequest API and the
//! deploy/ RBAC bound, and the operator lifecycle still passes: create with
//! in-tree autoscaling (rayop creates the autoscaler's ServiceAccount, Role and
//! RoleBinding, which RBAC allows only because rayop holds those rights),
//! scale up, scale down naming a pod (a pod patch), remove a worker group
//! (deletes), delete the cluster. Once with the cluster-wide ClusterRole
//! watching every namespace, once with the namespaced variant's Roles.
//!
//! The objects come from `kubectl kustomize deploy/manifests/<variant>`,
//! renamed into this test's namespaces; the operator runs as a process on
//! this machine (kwok's nodes run no containers), so the Deployment and
//! Service are left out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fixtures/deploy/operator_process.rs"]
mod process;
#[path = "fixtures/deploy/render.rs"]
mod render;
mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::{
    authentication::v1::TokenRequest,
    core::v1::{ConfigMap, Pod, ServiceAccount},
    events::v1::Event as KubeEvent,
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use process::{Election, OperatorProcess, Spawn, sample};
use rayop::{
    cli::journal::fetch,
    crd::{RayCluster, status::Phase, test_builders::group, worker_group::WorkloadKind},
    journal_view::load,
    record::Record,
};
use rayop_testenv::{TestEnv, wait_until};
use serde_json::{Value, json};
use support::*;

/// The deploy objects of `variant`, moved into `operator_ns` (and the
/// namespaced variant's `ray` into `watched`), cluster-scoped names made
/// unique; workloads left out.
fn adapt(docs: Vec<Value>, operator_ns: &str, watched: &str) -> Vec<Value> {
    let unique = format!("rayop-{operator_ns}");
    docs.into_iter()
        .filter(|d| {
            !matches!(
                d["kind"].as_str(),
                Some("Namespace" | "Deployment" | "Service" | "PersistentVolumeClaim")
            )
        })
        .map(|mut d| {
            match d["metadata"]["namespace"].as_str() {
                Some("rayop-system") => d["metadata"]["namespace"] = json!(operator_ns),
                Some("ray") => d["metadata"]["namespace"] = json!(watched),
                _ => {}
            }
            if matches!(
                d["kind"].as_str(),
                Some("ClusterRole" | "ClusterRoleBinding")
            ) {
                d["metadata"]["name"] = json!(unique);
            }
            if d["kind"] == "ClusterRoleBinding" {
                d["roleRef"]["name"] = json!(unique);
            }
            if let Some(subjects) = d.get_mut("subjects").and_then(Value::as_array_mut) {
                for s in subjects {
                    s["namespace"] = json!(operator_ns);
                }
            }
            d
        })
        .collect()
}

async fn apply_all(env: &TestEnv, docs: &[Value], dir: &Path) -> Result<()> {
    let mut text = String::new();
    for d in docs {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(d)?);
    }
    let path = dir.join("rbac.yaml");
    std::fs::write(&path, text)?;
    env.apply_yaml(&path, None).await?;
    Ok(())
}

/// A kubeconfig that authenticates as `operator_ns/rayop` with a token from
/// the TokenRequest API, for the admin kubeconfig's cluster.
async fn service_account_kubeconfig(
    env: &TestEnv,
    operator_ns: &str,
    dir: &Path,
) -> Result<PathBuf> {
    let request: TokenRequest = serde_json::from_value(json!({
        "spec": { "audiences": [], "expirationSeconds": 3600 }
    }))?;
    let token = Api::<ServiceAccount>::namespaced(env.client(), operator_ns)
        .create_token_request("rayop", &PostParams::default(), &request)
        .await?
        .status
        .context("no TokenRequest status")?
        .token;
    let admin: Value = serde_yaml::from_str(&std::fs::read_to_string(env.kubeconfig())?)?;
    let cluster = &admin["clusters"][0]["cluster"];
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "local", "cluster": cluster }],
        "users": [{ "name": "rayop", "user": { "token": token } }],
        "contexts": [{ "name": "rayop", "context": {
            "cluster": "local", "user": "rayop", "namespace": operator_ns } }],
        "current-context": "rayop",
    });
    let path = dir.join(format!("{operator_ns}.kubeconfig"));
    std::fs::write(&path, serde_yaml::to_string(&kubeconfig)?)?;
    Ok(path)
}

fn forbidden<T>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(s)) if s.code == 403)
}

async fn json_patch(client: &Client, ns: &str, name: &str, ops: Value) -> Result<()> {
    let patch: json_patch::Patch = serde_json::from_value(ops)?;
    clusters(client, ns)
        .patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await?;
    Ok(())
}

async fn workers(client: &Client, ns: &str, name: &str) -> Result<Vec<String>> {
    Ok(pods(client, ns, name, "worker")
        .await?
        .iter()
        .map(ResourceExt::name_any)
        .collect())
}

async fn wait_workers(client: &Client, ns: &str, name: &str, n: usize) -> Result<()> {
    wait_until(
        &format!("{ns}/{name} Ready with {n} workers"),
        TIMEOUT,
        || async {
            let c = clusters(client, ns).get(name).await?;
            let s = c.status.unwrap_or_default();
            Ok(s.phase == Some(Phase::Ready)
                && s.observed_generation == c.metadata.generation
                && s.ready_worker_replicas == Some(i32::try_from(n)?)
                && workers(client, ns, name).await?.len() == n)
        },
    )
    .await
}

/// No command of `ns/name`'s journal failed.
async fn no_failed_command(op: &OperatorProcess, ns: &str, name: &str) -> Result<()> {
    let streams = fetch::fetch_streams(&op.debug_url(), &format!("{ns}/{name}"), None).await?;
    ensure!(!streams.is_empty(), "no journal for {ns}/{name}");
    for stream in &streams {
        for entry in &stream.entries {
            let record: Record =
                load::decode(entry.version, &entry.payload).map_err(anyhow::Error::msg)?;
            if let Record::Results(results) = &record {
                for r in results {
                    ensure!(
                        r.error.is_none(),
                        "{ns}/{name}: {} failed: {:?}",
                        r.command,
                        r.error
                    );
                }
            }
        }
    }
    Ok(())
}

fn healthy_log(op: &OperatorProcess) -> Result<()> {
    let log = op.log_text();
    ensure!(
        !log.to_lowercase().contains("forbidden"),
        "the operator was refused something:\n{log}"
    );
    Ok(())
}

/// The lifecycle, as the operator's ServiceAccount sees it.
async fn lifecycle(client: &Client, op: &OperatorProcess, ns: &str) -> Result<()> {
    // In-tree autoscaling: rayop creates the autoscaler's SA, Role and binding.
    create(
        client,
        &cluster(
            RayCluster::test("lp")
                .with_group(group("small").with_replicas(1).bounds(1, 3))
                .with_autoscaling(),
            ns,
        ),
    )
    .await?;
    wait_workers(client, ns, "lp", 1).await?;
    json_patch(
        client,
        ns,
        "lp",
        json!([
            { "op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 3 }
        ]),
    )
    .await?;
    wait_workers(client, ns, "lp", 3).await?;
    // Scale down naming a pod: rayop patches its deletion cost.
    let before = workers(client, ns, "lp").await?;
    json_patch(
        client,
        ns,
        "lp",
        json!([
            { "op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2 },
            { "op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy",
              "value": { "workersToDelete": [before[1]] } }
        ]),
    )
    .await?;
    wait_workers(client, ns, "lp", 2).await?;
    ensure!(
        !workers(client, ns, "lp").await?.contains(&before[1]),
        "the named pod went"
    );

    // A StatefulSet group removed again: rayop deletes its workload and Service.
    create(
        client,
        &cluster(
            RayCluster::test("lq")
                .with_group(group("a").with_replicas(1).bounds(0, 2))
                .with_group(
                    group("b")
                        .with_replicas(1)
                        .bounds(0, 2)
                        .with_kind(WorkloadKind::StatefulSet),
                ),
            ns,
        ),
    )
    .await?;
    wait_workers(client, ns, "lq", 2).await?;
    json_patch(
        client,
        ns,
        "lq",
        json!([{ "op": "remove", "path": "/spec/workerGroupSpecs/1" }]),
    )
    .await?;
    wait_workers(client, ns, "lq", 1).await?;
    wait_until("group b's StatefulSet is deleted", TIMEOUT, || async {
        Ok(statefulset(client, ns, "lq-b").await?.is_none())
    })
    .await?;

    // Deletion.
    clusters(client, ns)
        .delete("lp", &DeleteParams::default())
        .await?;
    wait_until("lp is gone", TIMEOUT, || async {
        Ok(clusters(client, ns).get_opt("lp").await?.is_none())
    })
    .await?;

    // Events were recorded as the ServiceAccount.
    let events = Api::<KubeEvent>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?;
    ensure!(
        events
            .items
            .iter()
            .any(|e| e.reporting_controller.as_deref() == Some("rayop")),
        "rayop recorded Events"
    );
    for name in ["lp", "lq"] {
        no_failed_command(op, ns, name).await?;
    }
    let metrics = op.metrics().await?;
    ensure!(
        sample(&metrics, "rayop_reconciles_total{result=\"error\"}") == Some(0.0),
        "no reconcile failed:\n{metrics}"
    );
    healthy_log(op)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_rbac_is_enough_cluster_wide_and_namespaced() -> Result<()> {
    let (env, ns) = setup("lp-watched").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;

    // Cluster-wide: the ClusterRole, and a watch of every namespace.
    let operator_ns = env.namespace("lp-rayop").await?;
    apply_all(
        &env,
        &adapt(render::kustomize("cluster")?, &operator_ns, &ns),
        dir.path(),
    )
    .await?;
    let kubeconfig = service_account_kubeconfig(&env, &operator_ns, dir.path()).await?;
    let sa = rayop_testenv::kubeconfig::client(&kubeconfig).await?;
    ensure!(
        forbidden(
            Api::<ConfigMap>::all(sa.clone())
                .list(&ListParams::default())
                .await
        ),
        "the token is not an admin's"
    );
    let mut op = OperatorProcess::spawn(&Spawn {
        kubeconfig: kubeconfig.clone(),
        namespaces: Vec::new(),
        journal: dir.path().join("journal-cluster"),
        log: dir.path().join("cluster.log"),
        election: Some(Election::defaults("rayop-leader", &operator_ns, "rayop-0")),
    })
    .await?;
    op.wait_ready("ready\n").await?;
    lifecycle(&client, &op, &ns).await?;
    op.signal("TERM")?;
    ensure!(op.wait_exit(TIMEOUT).await?.success(), "SIGTERM exits 0");

    // Namespaced: Roles in one namespace only, and a watch of just that one.
    let watched = env.namespace("lp-ns").await?;
    let operator_ns = env.namespace("lp-rayop-ns").await?;
    apply_all(
        &env,
        &adapt(render::kustomize("namespaced")?, &operator_ns, &watched),
        dir.path(),
    )
    .await?;
    let kubeconfig = service_account_kubeconfig(&env, &operator_ns, dir.path()).await?;
    let sa = rayop_testenv::kubeconfig::client(&kubeconfig).await?;
    ensure!(
        forbidden(
            Api::<Pod>::namespaced(sa.clone(), &ns)
                .list(&ListParams::default())
                .await
        ),
        "no rights outside the watched namespace"
    );
    let op = OperatorProcess::spawn(&Spawn {
        kubeconfig,
        namespaces: vec![watched.clone()],
        journal: dir.path().join("journal-namespaced"),
        log: dir.path().join("namespaced.log"),
        election: Some(Election::defaults("rayop-leader", &operator_ns, "rayop-0")),
    })
    .await?;
    op.wait_ready("ready\n").await?;
    lifecycle(&client, &op, &watched).await
}
