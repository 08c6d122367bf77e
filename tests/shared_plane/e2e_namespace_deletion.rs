//! A namespace being deleted is left alone: while kube-controller-manager
//! removes a namespace that holds Ready RayClusters, rayop recreates nothing
//! there and reports no failure (the API server refuses every create in a
//! terminating namespace; each refusal used to be a failed command, a
//! Warning and a retry, hundreds of log lines a minute).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::support::*;
use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::DeleteParams};
use rayop::{crd::RayCluster, record::Record};
use rayop_machines::Input;
use rayop_testenv::wait_until;

fn failures(op: &Operator, uid: &str) -> Vec<String> {
    op.records(uid)
        .into_iter()
        .filter_map(|r| match r {
            Record::Event(e) => match e.input {
                Input::CommandFailed { message, .. } => Some(message),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_namespace_is_left_alone() -> Result<()> {
    let (env, ns) = setup("nsdel").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let mut uids = Vec::new();
    for name in ["one", "two"] {
        let c = create(
            &client,
            &cluster(RayCluster::test(name).with_workers(2), &ns),
        )
        .await?;
        uids.push(uid(&c));
    }
    for name in ["one", "two"] {
        wait_phase(&client, &ns, name, rayop::crd::status::Phase::Ready).await?;
    }
    let applies_before = op
        .handles
        .writes
        .applies
        .load(std::sync::atomic::Ordering::Relaxed);

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.delete(&ns, &DeleteParams::default()).await?;
    wait_until("the namespace is gone", Duration::from_secs(240), || {
        let (namespaces, ns) = (namespaces.clone(), ns.clone());
        async move { Ok(namespaces.get_opt(&ns).await?.is_none()) }
    })
    .await?;

    for uid in &uids {
        let failed = failures(&op, uid);
        ensure!(
            failed.is_empty(),
            "commands failed while the namespace was deleted: {failed:?}"
        );
    }
    let applies = op
        .handles
        .writes
        .applies
        .load(std::sync::atomic::Ordering::Relaxed)
        - applies_before;
    println!("applies while the namespace was deleted: {applies}");
    op.stop().await
}
