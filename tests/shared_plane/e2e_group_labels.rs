//! A group's `labels` and `resources` on live pods: the labels are on the
//! pods (over the template's, never over rayop's own), and the Ray
//! container's `ray start` carries `--labels`, the resource flags and the
//! custom `--resources` JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use rayop::crd::{RayCluster, status::Phase};
use serde_json::json;

fn script(pod: &Pod) -> String {
    pod.spec.clone().unwrap().containers[0]
        .args
        .clone()
        .unwrap_or_default()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_labels_and_resources_reach_ray_start_and_the_pods() -> Result<()> {
    let (env, ns) = setup("labels").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;

    let c: RayCluster = serde_json::from_value(json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "lab", "namespace": ns},
        "spec": {
            "headGroupSpec": {
                "labels": {"ray.io/region": "us-central2"},
                "resources": {"CPU": "0"},
                "rayStartParams": {}
            },
            "workerGroupSpecs": [{
                "groupName": "tpu",
                "replicas": 1,
                "minReplicas": 0,
                "maxReplicas": 2,
                "labels": {"ray.io/market-type": "spot", "team": "group", "ray.io/group": "other"},
                "resources": {"cpu": "1500m", "memory": "1Gi", "TPU": "4"},
                "rayStartParams": {},
                "template": {
                    "metadata": {"labels": {"team": "template", "app": "x"}},
                    "spec": {"containers": [{
                        "name": "ray-worker",
                        "resources": {"limits": {"cpu": "3", "memory": "2Gi"}}
                    }]}
                }
            }]
        }
    }))?;
    create(&client, &c).await?;
    wait_phase(&client, &ns, "lab", Phase::Ready).await?;

    let head = pods(&client, &ns, "lab", "head").await?;
    let head = &head[0];
    assert_eq!(
        head.metadata.labels.clone().unwrap()["ray.io/region"],
        "us-central2"
    );
    let head_script = script(head);
    assert!(
        head_script.contains("--labels=ray.io/region=us-central2"),
        "{head_script}"
    );
    assert!(head_script.contains("--num-cpus=0"), "{head_script}");

    let workers = pods(&client, &ns, "lab", "worker").await?;
    assert_eq!(workers.len(), 1);
    let labels = workers[0].metadata.labels.clone().unwrap();
    assert_eq!(
        labels["team"], "group",
        "group labels win over the template's"
    );
    assert_eq!(labels["app"], "x");
    assert_eq!(labels["ray.io/market-type"], "spot");
    assert_eq!(labels["ray.io/group"], "tpu", "rayop's own label stays");
    let worker_script = script(&workers[0]);
    for flag in [
        "--labels=ray.io/group=other,ray.io/market-type=spot,team=group",
        "--num-cpus=2",
        "--memory=1073741824",
        r#"--resources='{"TPU":4}'"#,
    ] {
        assert!(worker_script.contains(flag), "{flag} in {worker_script}");
    }
    op.stop().await
}
