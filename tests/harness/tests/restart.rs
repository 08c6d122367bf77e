//! The chaos hooks work: kube-apiserver restarts keep the data and clients
//! reconnect; a stopped etcd makes writes fail until it is started again.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use rayop_testenv::TestEnv;
use serde_json::json;

fn config_map(name: &str) -> Result<ConfigMap> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name },
        "data": { "k": "v" },
    }))?)
}

#[tokio::test]
async fn apiserver_restart_and_etcd_stop_start() -> Result<()> {
    let env = TestEnv::shared().await?;
    let plane = env
        .control_plane()
        .context("this test needs the local plane, not RAYOP_TEST_KUBECONFIG")?;
    let ns = env.namespace("restart").await?;
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), &ns);
    cms.create(&PostParams::default(), &config_map("before")?)
        .await?;

    let old_pid = plane
        .pids()
        .into_iter()
        .find(|(c, _)| c.name() == "kube-apiserver");
    plane.restart_apiserver().await?;
    let new_pid = plane
        .pids()
        .into_iter()
        .find(|(c, _)| c.name() == "kube-apiserver");
    assert_ne!(old_pid, new_pid, "a new kube-apiserver process");
    // The same client reconnects, and the data survived.
    let cm = cms.get("before").await?;
    assert_eq!(
        cm.data.and_then(|d| d.get("k").cloned()).as_deref(),
        Some("v")
    );

    plane.stop_etcd()?;
    let write = tokio::time::timeout(
        Duration::from_secs(5),
        cms.create(&PostParams::default(), &config_map("during")?),
    )
    .await;
    assert!(
        !matches!(write, Ok(Ok(_))),
        "a write succeeded while etcd was stopped"
    );
    plane.start_etcd().await?;
    // Writes work again (the API server's etcd client reconnects by itself;
    // allow it a bounded moment to do so).
    rayop_testenv::wait_until(
        "a write after etcd restarted",
        Duration::from_secs(60),
        || async {
            Ok(cms
                .create(&PostParams::default(), &config_map("after")?)
                .await
                .is_ok()
                || cms.get_opt("after").await?.is_some())
        },
    )
    .await?;
    Ok(())
}
