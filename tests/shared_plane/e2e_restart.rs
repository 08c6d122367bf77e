//! The operator killed with SIGKILL mid-way and started again converges
//! without duplicate objects, continuing from the machine it journaled.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::{Api, api::ListParams};
use rayop::{
    crd::{RayCluster, status::Phase, test_builders::group},
    record::Record,
};
use rayop_testenv::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_operator_restarts_from_its_journal_without_duplicates() -> Result<()> {
    let (env, ns) = setup("restart").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal");
    let log = dir.path().join("rayop.log");

    let mut first = operator_process(env.kubeconfig(), &ns, &journal, &log)?;
    let c = create(
        &client,
        &cluster(
            RayCluster::test("rs").with_group(group("small").with_replicas(2).bounds(0, 4)),
            &ns,
        ),
    )
    .await?;
    let api = clusters(&client, &ns);
    wait_until("a first decision is published", TIMEOUT, || async {
        Ok(api.get("rs").await?.status.and_then(|s| s.phase).is_some())
    })
    .await?;
    first.kill().await?; // SIGKILL

    let mut second = operator_process(env.kubeconfig(), &ns, &journal, &log)?;
    wait_phase(&client, &ns, "rs", Phase::Ready).await?;
    // Once more, now that it is Ready.
    second.kill().await?;
    let mut third = operator_process(env.kubeconfig(), &ns, &journal, &log)?;
    wait_phase(&client, &ns, "rs", Phase::Ready).await?;

    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let owned = sts
        .list(&ListParams::default().labels("ray.io/cluster=rs"))
        .await?
        .items;
    assert_eq!(
        owned.len(),
        2,
        "exactly the head and one worker StatefulSet"
    );
    assert_eq!(pods(&client, &ns, "rs", "head").await?.len(), 1);
    assert_eq!(pods(&client, &ns, "rs", "worker").await?.len(), 2);
    third.kill().await?;

    let (journal, report) =
        rayop_journal::Journal::open(&journal, rayop_journal::Options::default())?;
    assert!(report.is_clean(), "{report:?}");
    assert!(journal.verify()?.is_ok());
    let transitions: Vec<(String, String)> = journal
        .read_from::<Record>(&uid(&c), 1)?
        .into_iter()
        .filter_map(|e| match e.payload {
            Record::Transition { from, to } => Some((from.to_string(), to.to_string())),
            _ => None,
        })
        .collect();
    // Restored machines continue the path; a fresh one would start over at Pending.
    let expected = path(&[
        ("Pending", "HeadStarting"),
        ("HeadStarting", "Scaling"),
        ("Scaling", "Ready"),
    ]);
    assert_eq!(
        transitions,
        expected,
        "log: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Ok(())
}
