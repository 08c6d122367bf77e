//! etcd stopped under a running operator, while clusters reconcile.
//!
//! Its own test binary: the control plane is shared per binary, and this test
//! takes part of it down on purpose. One in-process operator runs throughout
//! and is never restarted. With two clusters mid-scale, etcd is stopped (the
//! API server stays up but cannot serve storage) for about three seconds,
//! during which a spec write is attempted and times out; after etcd is back,
//! further scales and a new cluster converge without an operator restart,
//! and no cluster has a duplicate StatefulSet.
//!
//! Restarting kube-apiserver itself is its own binary,
//! `reliability_apiserver_restart`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use rayop_testenv::wait_until;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_converge_across_an_etcd_outage_without_an_operator_restart() -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .try_init();
    let (env, ns) = setup("apiserver").await?;
    let plane = env
        .control_plane()
        .context("needs the local control plane (not RAYOP_TEST_KUBECONFIG)")?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;

    create(&client, &cluster(workers("ready", 1), &ns)).await?;
    converged(&client, &ns, "ready", 1).await?;
    // Two more are mid-reconcile when etcd goes away.
    create(&client, &cluster(workers("mid-a", 2), &ns)).await?;
    create(&client, &cluster(workers("mid-b", 1), &ns)).await?;
    let api = clusters(&client, &ns);
    wait_until("mid-a has a first decision", TIMEOUT, || async {
        Ok(api
            .get("mid-a")
            .await?
            .status
            .and_then(|s| s.phase)
            .is_some())
    })
    .await?;

    for (name, n) in [("ready", 1), ("mid-a", 2), ("mid-b", 1)] {
        converged(&client, &ns, name, n).await?;
    }
    scale(&client, &ns, "ready", 3).await?;
    // etcd goes away while a scale is in flight.
    // etcd down: the API server cannot serve storage for a while.
    plane.stop_etcd()?;
    let outage = Instant::now();
    // Writes fail during the outage; the attempt must not wedge anything.
    let attempted = tokio::time::timeout(
        Duration::from_secs(3),
        patch_spec(
            &client,
            &ns,
            "mid-b",
            json!({"workerGroupSpecs": [{"groupName": "small", "replicas": 2}]}),
        ),
    )
    .await;
    plane.start_etcd().await?;
    let down = outage.elapsed();
    eprintln!("patch during the etcd outage: {attempted:?}");

    scale(&client, &ns, "mid-b", 2).await?;
    scale(&client, &ns, "mid-a", 0).await?;
    create(&client, &cluster(workers("late", 1), &ns)).await?;
    for (name, n) in [("ready", 3), ("mid-a", 0), ("mid-b", 2), ("late", 1)] {
        converged(&client, &ns, name, n).await?;
    }
    let recovered = outage.elapsed();

    assert_two_statefulsets(&client, &ns, &["ready", "mid-a", "mid-b", "late"]).await?;
    eprintln!(
        "etcd down {down:.1?}; all converged {recovered:.1?} after etcd stopped; {} writes",
        op.writes()
    );
    op.stop().await
}
