//! kube-apiserver restarted under a running operator.
//!
//! Its own test binary: the control plane is shared per binary, and this test
//! restarts its API server on purpose. One in-process operator runs
//! throughout and is never restarted. After the restart every watch must
//! resume (relisting where the new API server has forgotten the old resource
//! versions), so a scale made after the restart and a cluster created after
//! it both converge, and no cluster gains a duplicate StatefulSet.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Instant;

use anyhow::{Context as _, Result};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_converge_across_an_apiserver_restart_without_an_operator_restart() -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .try_init();
    let (env, ns) = setup("apirestart").await?;
    let plane = env
        .control_plane()
        .context("needs the local control plane (not RAYOP_TEST_KUBECONFIG)")?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;

    create(&client, &cluster(workers("before", 1), &ns)).await?;
    converged(&client, &ns, "before", 1).await?;

    let restart = Instant::now();
    plane.restart_apiserver().await?;
    let down = restart.elapsed();

    // A spec change and a new cluster, both after the restart.
    scale(&client, &ns, "before", 3).await?;
    create(&client, &cluster(workers("after", 2), &ns)).await?;
    converged(&client, &ns, "before", 3).await?;
    converged(&client, &ns, "after", 2).await?;
    let recovered = restart.elapsed();

    assert_two_statefulsets(&client, &ns, &["before", "after"]).await?;
    eprintln!(
        "kube-apiserver restart took {down:.1?}; all converged {recovered:.1?} after it began; {} writes",
        op.writes()
    );
    op.stop().await
}
