//! Smoke tests of the local control plane (crate `rayop-testenv`): the
//! controllers, the scheduler and kwok really turn workloads into Running,
//! Ready pods with IPs; owner references really garbage-collect; PVCs really
//! bind to PVs. Each test works in its own namespace of the shared plane.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use rayop_testenv::{TestEnv, wait_until};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

fn pod_template(app: &str) -> serde_json::Value {
    json!({
        "metadata": { "labels": { "app": app } },
        "spec": {
            "containers": [{ "name": "main", "image": "registry.invalid/rayop/smoke:1" }],
        },
    })
}

async fn create<K>(api: &Api<K>, value: serde_json::Value) -> Result<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + serde::Serialize,
{
    let obj: K = serde_json::from_value(value)?;
    Ok(api.create(&PostParams::default(), &obj).await?)
}

/// The pods of `app` in `ns` when exactly `n` exist and all are Running,
/// Ready and have an IP; `None` otherwise.
async fn ready_pods(client: &Client, ns: &str, app: &str, n: usize) -> Result<Option<Vec<Pod>>> {
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?
        .items;
    let all_ready = pods.len() == n
        && pods.iter().all(|p| {
            let Some(status) = &p.status else {
                return false;
            };
            status.phase.as_deref() == Some("Running")
                && status.pod_ip.is_some()
                && status
                    .conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        });
    Ok(all_ready.then_some(pods))
}

async fn wait_ready_pods(client: &Client, ns: &str, app: &str, n: usize) -> Result<Vec<Pod>> {
    wait_until(&format!("{n} ready pods of {app}"), TIMEOUT, || async {
        Ok(ready_pods(client, ns, app, n).await?.is_some())
    })
    .await?;
    ready_pods(client, ns, app, n)
        .await?
        .context("pods stopped being ready")
}

fn assert_placed_with_ips(pods: &[Pod]) -> BTreeSet<Ipv4Addr> {
    let cidr_base = u32::from(Ipv4Addr::new(10, 64, 0, 0));
    let mut ips = BTreeSet::new();
    for p in pods {
        let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
        assert!(
            node.as_deref().is_some_and(|n| n.starts_with("kwok-")),
            "pod {:?} not scheduled onto a kwok node: {node:?}",
            p.metadata.name
        );
        let ip: Ipv4Addr = p
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok())
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            u32::from(ip) >> 20,
            cidr_base >> 20,
            "pod IP {ip} outside kwok's 10.64.0.0/12"
        );
        ips.insert(ip);
    }
    assert_eq!(ips.len(), pods.len(), "pod IPs are not distinct: {ips:?}");
    ips
}

#[tokio::test]
async fn statefulset_and_deployment_pods_become_running_and_ready_with_ips() -> Result<()> {
    let env = TestEnv::shared().await?;
    let ns = env.namespace("smoke-workloads").await?;
    let client = env.client();

    create(
        &Api::<Service>::namespaced(client.clone(), &ns),
        json!({
            "metadata": { "name": "db" },
            "spec": { "clusterIP": "None", "selector": { "app": "db" }, "ports": [{ "port": 5432 }] },
        }),
    )
    .await?;
    create(
        &Api::<StatefulSet>::namespaced(client.clone(), &ns),
        json!({
            "metadata": { "name": "db" },
            "spec": {
                "serviceName": "db",
                "replicas": 3,
                "selector": { "matchLabels": { "app": "db" } },
                "template": pod_template("db"),
            },
        }),
    )
    .await?;
    create(
        &Api::<Deployment>::namespaced(client.clone(), &ns),
        json!({
            "metadata": { "name": "web" },
            "spec": {
                "replicas": 2,
                "selector": { "matchLabels": { "app": "web" } },
                "template": pod_template("web"),
            },
        }),
    )
    .await?;

    let db = wait_ready_pods(&client, &ns, "db", 3).await?;
    let web = wait_ready_pods(&client, &ns, "web", 2).await?;
    let mut names: Vec<String> = db.iter().filter_map(|p| p.metadata.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        ["db-0", "db-1", "db-2"],
        "StatefulSet pod identities"
    );
    let all: Vec<Pod> = db.into_iter().chain(web).collect();
    assert_placed_with_ips(&all);

    // The controllers report the pods back in the owners' status.
    wait_until("StatefulSet and Deployment status", TIMEOUT, || async {
        let sts = Api::<StatefulSet>::namespaced(client.clone(), &ns)
            .get("db")
            .await?;
        let dep = Api::<Deployment>::namespaced(client.clone(), &ns)
            .get("web")
            .await?;
        Ok(sts.status.and_then(|s| s.ready_replicas) == Some(3)
            && dep.status.and_then(|s| s.available_replicas) == Some(2))
    })
    .await
}

#[tokio::test]
async fn deleting_an_owner_garbage_collects_its_children() -> Result<()> {
    let env = TestEnv::shared().await?;
    let ns = env.namespace("smoke-gc").await?;
    let client = env.client();
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    let replicasets = Api::<ReplicaSet>::namespaced(client.clone(), &ns);
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);

    create(
        &deployments,
        json!({
            "metadata": { "name": "owner" },
            "spec": {
                "replicas": 2,
                "selector": { "matchLabels": { "app": "owned" } },
                "template": pod_template("owned"),
            },
        }),
    )
    .await?;
    let children = wait_ready_pods(&client, &ns, "owned", 2).await?;
    let rs = replicasets.list(&ListParams::default()).await?.items;
    assert_eq!(rs.len(), 1, "one ReplicaSet owned by the Deployment");
    let rs_owner = rs[0]
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.name.clone());
    assert_eq!(rs_owner.as_deref(), Some("owner"));
    for p in &children {
        let owner_kind = p
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.kind.clone());
        assert_eq!(owner_kind.as_deref(), Some("ReplicaSet"));
    }

    // Delete only the Deployment; the garbage collector must remove the
    // ReplicaSet, and through it the pods (which kwok then lets go).
    deployments
        .delete("owner", &DeleteParams::background())
        .await?;
    wait_until(
        "ReplicaSets and pods garbage-collected",
        TIMEOUT,
        || async {
            let rs_left = replicasets.list(&ListParams::default()).await?.items.len();
            let pods_left = pods.list(&ListParams::default()).await?.items.len();
            Ok(rs_left == 0 && pods_left == 0)
        },
    )
    .await
}

#[tokio::test]
async fn pvc_templated_statefulset_binds_to_a_precreated_persistent_volume() -> Result<()> {
    let env = TestEnv::shared().await?;
    let ns = env.namespace("smoke-pv").await?;
    let client = env.client();
    // Cluster-scoped names must not collide with other tests: derive them
    // from the (unique) namespace.
    let class = format!("{ns}-local");
    let pv_name = format!("{ns}-pv");

    create(
        &Api::<StorageClass>::all(client.clone()),
        json!({
            "metadata": { "name": class },
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
        }),
    )
    .await?;
    create(
        &Api::<PersistentVolume>::all(client.clone()),
        json!({
            "metadata": { "name": pv_name },
            "spec": {
                "storageClassName": class,
                "capacity": { "storage": "1Gi" },
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": { "path": format!("/tmp/{pv_name}") },
            },
        }),
    )
    .await?;
    create(
        &Api::<StatefulSet>::namespaced(client.clone(), &ns),
        json!({
            "metadata": { "name": "store" },
            "spec": {
                "serviceName": "store",
                "replicas": 1,
                "selector": { "matchLabels": { "app": "store" } },
                "template": {
                    "metadata": { "labels": { "app": "store" } },
                    "spec": { "containers": [{
                        "name": "main",
                        "image": "registry.invalid/rayop/smoke:1",
                        "volumeMounts": [{ "name": "data", "mountPath": "/data" }],
                    }]},
                },
                "volumeClaimTemplates": [{
                    "metadata": { "name": "data" },
                    "spec": {
                        "storageClassName": class,
                        "accessModes": ["ReadWriteOnce"],
                        "resources": { "requests": { "storage": "1Gi" } },
                    },
                }],
            },
        }),
    )
    .await?;

    let pvcs = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &ns);
    let pvs = Api::<PersistentVolume>::all(client.clone());
    wait_until("PVC data-store-0 Bound to the PV", TIMEOUT, || async {
        let Some(pvc) = pvcs.get_opt("data-store-0").await? else {
            return Ok(false);
        };
        let bound = pvc.status.and_then(|s| s.phase).as_deref() == Some("Bound");
        Ok(bound && pvc.spec.and_then(|s| s.volume_name).as_deref() == Some(pv_name.as_str()))
    })
    .await?;
    let pv = pvs.get(&pv_name).await?;
    assert_eq!(pv.status.and_then(|s| s.phase).as_deref(), Some("Bound"));
    let claim = pv
        .spec
        .and_then(|s| s.claim_ref)
        .context("PV has no claimRef")?;
    assert_eq!(claim.namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(claim.name.as_deref(), Some("data-store-0"));

    // With its claim bound, the pod schedules and kwok runs it.
    let pods = wait_ready_pods(&client, &ns, "store", 1).await?;
    assert_placed_with_ips(&pods);
    Ok(())
}

#[tokio::test]
async fn harness_applies_crds_and_multi_document_yaml() -> Result<()> {
    let env = TestEnv::shared().await?;
    let ns = env.namespace("smoke-apply").await?;
    let fixtures = rayop_testenv::binaries::repo_root()?.join("tests/fixtures/k8s");

    let crds = env.apply_crd(&fixtures.join("crds")).await?;
    assert_eq!(crds, ["widgets.testenv.rayop.dev"]);
    // Applying again is a no-op, not an error.
    env.apply_crd(&fixtures.join("crds")).await?;

    let applied = env
        .apply_yaml(&fixtures.join("widget-and-configmap.yaml"), Some(&ns))
        .await?;
    let kinds: Vec<(String, String)> = applied
        .iter()
        .map(|o| {
            let kind = o.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default();
            (kind, o.metadata.namespace.clone().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Widget".to_string(), ns.clone()),
            ("ConfigMap".to_string(), ns.clone())
        ]
    );
    assert_eq!(applied[0].data["spec"]["size"], 3);

    let err = env
        .apply_yaml(&fixtures.join("widget-invalid.yaml"), Some(&ns))
        .await
        .err()
        .context("the schema should refuse size 0")?;
    let message = format!("{err:#}");
    assert!(message.contains("spec.size"), "{message}");

    // kubectl from the harness sees the same cluster.
    let out = env
        .kubectl()
        .args(["get", "widgets", "-n", &ns, "-o", "name"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "widget.testenv.rayop.dev/small"
    );
    Ok(())
}
