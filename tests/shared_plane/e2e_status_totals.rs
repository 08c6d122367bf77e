//! End-to-end: the resource totals of `status` (`desiredCPU`, `desiredMemory`,
//! `desiredGPU`, `desiredTPU`) follow the spec, multi-host groups and GPU /
//! TPU resources included, and a scale rewrites them. The fake nodes offer no
//! accelerators, so the workers stay Pending: `availableWorkerReplicas` is 0
//! and `state` never became anything, so `stateTransitionTimes` is empty.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use crate::support::*;
use anyhow::Result;
use k8s_openapi::{
    api::core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};
use rayop::crd::{RayCluster, head::HeadGroupSpec, test_builders::group};
use rayop_testenv::wait_until;

fn template(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> PodTemplateSpec {
    let list = |pairs: &[(&str, &str)]| -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
            .collect()
    };
    PodTemplateSpec {
        metadata: None,
        spec: Some(PodSpec {
            containers: vec![Container {
                name: name.to_owned(),
                resources: Some(ResourceRequirements {
                    requests: Some(list(requests)),
                    limits: Some(list(limits)),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
    }
}

/// The four totals of the live status, once `desiredTPU` reads `tpu`.
async fn totals(
    client: &kube::Client,
    ns: &str,
    name: &str,
    tpu: &str,
) -> Result<[Option<String>; 4]> {
    let api = clusters(client, ns);
    wait_until(&format!("{name} desiredTPU {tpu}"), TIMEOUT, || async {
        let status = api.get(name).await?.status.unwrap_or_default();
        Ok(status.desired_tpu.as_ref().map(|q| q.0.as_str()) == Some(tpu))
    })
    .await?;
    let status = api.get(name).await?.status.unwrap_or_default();
    assert_eq!(status.available_worker_replicas, Some(0));
    assert!(status.state_transition_times.is_empty());
    Ok([
        status.desired_cpu,
        status.desired_memory,
        status.desired_gpu,
        status.desired_tpu,
    ]
    .map(|q| q.map(|q| q.0)))
}

fn some(values: [&str; 4]) -> [Option<String>; 4] {
    values.map(|v| Some(v.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_totals_follow_the_spec_and_its_scale() -> Result<()> {
    let (env, ns) = setup("totals").await?;
    let client = env.client();
    let _op = Operator::start(client.clone(), &[&ns]).await?;

    let mut tpu = group("tpu").with_replicas(1).bounds(0, 4).with_hosts(2);
    tpu.template = Some(template(
        "ray-worker",
        &[("cpu", "250m"), ("memory", "512Mi")],
        &[("google.com/tpu", "4"), ("nvidia.com/gpu", "1")],
    ));
    let mut c = RayCluster::test("totals").with_group(tpu.clone());
    c.spec.head_group_spec = Some(HeadGroupSpec {
        template: Some(template(
            "ray-head",
            &[("cpu", "500m"), ("memory", "1Gi")],
            &[],
        )),
        ..HeadGroupSpec::default()
    });
    create(&client, &cluster(c, &ns)).await?;

    // Head 500m + 1Gi; 1 replica × 2 hosts of 250m, 512Mi, 1 GPU, 4 TPUs.
    assert_eq!(
        totals(&client, &ns, "totals", "8").await?,
        some(["1", "2Gi", "2", "8"])
    );

    // A merge patch replaces the whole list: send the group, scaled.
    tpu.replicas = 2;
    patch_spec(
        &client,
        &ns,
        "totals",
        serde_json::json!({ "workerGroupSpecs": [tpu] }),
    )
    .await?;
    assert_eq!(
        totals(&client, &ns, "totals", "16").await?,
        some(["1500m", "3Gi", "4", "16"])
    );
    Ok(())
}
