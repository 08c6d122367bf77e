//! `spec.historyServerOptions` end to end: every live Ray pod, head and
//! workers, runs the `ray-history-collector` sidecar with rayop's env and
//! the user's, shares `/tmp/ray` with the Ray container, whose env makes Ray
//! export its events to it; with token auth the collector gets the token
//! too. A spec without `STORAGE_BACKEND` is refused, naming the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::core::v1::{Container, EnvVar};
use rayop::crd::{
    RayCluster,
    auth::{AuthMode, AuthOptions},
    history_server::{CollectorOptions, HistoryServerOptions},
    status::Phase,
    test_builders::group,
};

fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

fn with_collector(name: &str, env: Vec<EnvVar>) -> RayCluster {
    let mut c = RayCluster::test(name).with_group(group("small").with_replicas(2).bounds(0, 3));
    c.spec.ray_version = "2.52.0".into();
    c.spec.history_server_options = Some(HistoryServerOptions {
        collector_options: Some(CollectorOptions {
            image: Some("collector:test".into()),
            env: Some(env),
            ..CollectorOptions::default()
        }),
    });
    c
}

fn env_value<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

fn mount_at<'a>(c: &'a Container, path: &str) -> Option<&'a str> {
    c.volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == path)
        .map(|m| m.name.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ray_pod_runs_the_collector_with_shared_logs_and_event_env() -> Result<()> {
    let (env, ns) = setup("history").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let mut c = with_collector(
        "hist",
        vec![
            literal("STORAGE_BACKEND", "gcs"),
            literal("GCS_BUCKET", "bucket"),
        ],
    );
    c.spec.auth_options = Some(AuthOptions {
        mode: Some(AuthMode::Token),
        ..AuthOptions::default()
    });
    create(&client, &cluster(c, &ns)).await?;
    wait_phase(&client, &ns, "hist", Phase::Ready).await?;

    let mut seen = 0;
    for (node, role) in [("head", "Head"), ("worker", "Worker")] {
        for pod in pods(&client, &ns, "hist", node).await? {
            seen += 1;
            let spec = pod.spec.unwrap();
            let ray = &spec.containers[0];
            let collector = spec
                .containers
                .iter()
                .find(|c| c.name == "ray-history-collector")
                .unwrap();
            assert_eq!(collector.image.as_deref(), Some("collector:test"));
            assert_eq!(collector.image_pull_policy.as_deref(), Some("IfNotPresent"));
            assert_eq!(env_value(collector, "RAY_ROLE"), Some(role));
            assert_eq!(env_value(collector, "RAY_CLUSTER_NAME"), Some("hist"));
            assert_eq!(env_value(collector, "EVENTS_PORT"), Some("8084"));
            assert_eq!(env_value(collector, "GCS_BUCKET"), Some("bucket"));
            assert_eq!(env_value(collector, "RAY_AUTH_MODE"), Some("token"));
            assert_eq!(
                env_value(collector, "FQ_RAY_IP"),
                Some(format!("hist-head-svc.{ns}.svc.cluster.local").as_str())
            );
            assert_eq!(
                env_value(collector, "RAY_DASHBOARD_ADDRESS").is_some(),
                node == "head"
            );
            let limits = collector.resources.clone().unwrap().limits.unwrap();
            assert_eq!(limits["cpu"].0, "200m");
            assert_eq!(env_value(ray, "RAY_enable_ray_event"), Some("true"));
            assert_eq!(
                env_value(ray, "RAY_DASHBOARD_AGGREGATOR_AGENT_EVENTS_EXPORT_ADDR"),
                Some("http://localhost:8084/v1/events")
            );
            let shared = mount_at(ray, "/tmp/ray").unwrap();
            assert_eq!(mount_at(collector, "/tmp/ray"), Some(shared));
            assert!(
                spec.volumes
                    .iter()
                    .flatten()
                    .any(|v| v.name == shared && v.empty_dir.is_some())
            );
        }
    }
    assert_eq!(seen, 3, "the head and two workers");
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_without_a_storage_backend_is_refused_naming_the_field() -> Result<()> {
    let (env, ns) = setup("history-bad").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let c = with_collector("nostore", vec![literal("GCS_BUCKET", "bucket")]);
    create(&client, &cluster(c, &ns)).await?;
    let c = wait_phase(&client, &ns, "nostore", Phase::Pending).await?;
    let condition = c
        .status
        .unwrap_or_default()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "InvalidSpec")
        .unwrap();
    assert!(
        condition
            .message
            .contains("spec.historyServerOptions.collectorOptions.env")
            && condition.message.contains("STORAGE_BACKEND"),
        "{}",
        condition.message
    );
    assert!(statefulset(&client, &ns, "nostore-head").await?.is_none());
    op.stop().await
}
