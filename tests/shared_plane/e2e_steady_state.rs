//! Steady state costs the API server nothing: ten Ready clusters, reconciled
//! again and again, make zero writes.
//!
//! The window is 60 s by default (`RAYOP_STEADY_SECONDS` changes it); it is a
//! measurement window, not a synchronisation: the assertion is that nothing
//! happens in it. The resync is 5 s, so every cluster is reconciled about a
//! dozen times within the window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::support::*;
use anyhow::Result;
use rayop::{
    controller::{self, Handles, Settings},
    crd::{RayCluster, status::Phase, test_builders::group},
    journaling::JournalHandle,
};
use rayop_testenv::wait_until;

const CLUSTERS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_ready_clusters_make_no_writes_in_steady_state() -> Result<()> {
    let (env, ns) = setup("steady").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;
    let (journal, _) = JournalHandle::open(dir.path(), rayop_journal::Options::default())?;
    let handles = Handles::new(std::sync::Arc::new(journal));
    let settings = Settings {
        namespaces: vec![ns.clone()],
        resync: Duration::from_secs(5),
        ..Settings::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(
        client.clone(),
        settings,
        handles.clone(),
        async move {
            let _ = stopped.await;
        },
    ));

    for i in 0..CLUSTERS {
        let name = format!("st{i}");
        create(
            &client,
            &cluster(
                RayCluster::test(&name).with_group(group("small").with_replicas(2).bounds(0, 4)),
                &ns,
            ),
        )
        .await?;
    }
    for i in 0..CLUSTERS {
        wait_phase(&client, &ns, &format!("st{i}"), Phase::Ready).await?;
    }
    // Settled: no write for one full resync period.
    let mut last = handles.writes.total();
    wait_until("writes settle", TIMEOUT, || {
        let now = handles.writes.total();
        let settled = now == last;
        last = now;
        async move {
            tokio::time::sleep(Duration::from_secs(6)).await;
            Ok(settled)
        }
    })
    .await?;

    let seconds: u64 = std::env::var("RAYOP_STEADY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let before = handles.writes.total();
    let journal_before = handles
        .journal
        .journal()
        .map(|j| j.streams().map(|s| s.iter().map(|s| s.count).sum::<u64>()))
        .transpose()?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let writes = handles.writes.total() - before;
    let journal_after = handles
        .journal
        .journal()
        .map(|j| j.streams().map(|s| s.iter().map(|s| s.count).sum::<u64>()))
        .transpose()?;
    println!(
        "steady state: {CLUSTERS} Ready clusters, {seconds} s, {writes} API writes, journal entries {journal_before:?} -> {journal_after:?}"
    );
    assert_eq!(writes, 0, "API writes in steady state");
    assert_eq!(
        journal_before, journal_after,
        "journal appends in steady state"
    );

    let _ = stop.send(());
    tokio::time::timeout(TIMEOUT, task).await??;
    Ok(())
}
