//! A second writer keeps changing what rayop manages.
//!
//! While it relabels rayop's StatefulSets and Services and overwrites the
//! RayCluster status about ten times a second, rayop must:
//! - converge (a scale made during the storm reaches Ready);
//! - never hot-loop: its API writes during the storm stay bounded by the
//!   other writer's (at most one answer per foreign write, plus a small
//!   constant), and once the storm stops a quiet window has zero writes;
//! - never erase the other writer's labels: server-side apply under one field
//!   manager leaves fields it does not own alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Service};
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use rayop::crd::{RayCluster, status::Phase, test_builders::group};
use rayop_testenv::wait_until;
use serde_json::json;

const OTHER: &str = "other.example.com/touched";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_neither_hot_loops_rayop_nor_loses_its_labels() -> Result<()> {
    let (env, ns) = setup("conflicts").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    for name in ["c1", "c2"] {
        create(
            &client,
            &cluster(
                RayCluster::test(name).with_group(group("small").with_replicas(1).bounds(0, 4)),
                &ns,
            ),
        )
        .await?;
    }
    for name in ["c1", "c2"] {
        wait_phase(&client, &ns, name, Phase::Ready).await?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let foreign = Arc::new(AtomicU64::new(0));
    let status_writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (client, ns, stop) = (client.clone(), ns.clone(), stop.clone());
        let (foreign, status_writes) = (foreign.clone(), status_writes.clone());
        tokio::spawn(async move {
            let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
            let svc: Api<Service> = Api::namespaced(client.clone(), &ns);
            let rc = clusters(&client, &ns);
            let params = PatchParams::apply("other-writer");
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let label = json!({"metadata": {"labels": {OTHER: n.to_string()}}});
                for name in ["c1", "c2"] {
                    for obj in [format!("{name}-head"), format!("{name}-small")] {
                        if sts
                            .patch(&obj, &PatchParams::default(), &Patch::Merge(&label))
                            .await
                            .is_ok()
                        {
                            foreign.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    if svc
                        .patch(
                            &format!("{name}-head-svc"),
                            &PatchParams::default(),
                            &Patch::Merge(&label),
                        )
                        .await
                        .is_ok()
                    {
                        foreign.fetch_add(1, Ordering::SeqCst);
                    }
                }
                // A stale writer of the status: an old phase and reason.
                let status = json!({
                    "apiVersion": "ray.io/v1",
                    "kind": "RayCluster",
                    "status": {"reason": format!("other writer {n}")}
                });
                if rc
                    .patch_status("c2", &params, &Patch::Apply(&status))
                    .await
                    .is_ok()
                {
                    status_writes.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            n
        })
    };

    // Storm window: a scale made in the middle of it converges.
    let storm = Instant::now();
    let writes_before = op.writes();
    patch_spec(
        &client,
        &ns,
        "c1",
        json!({"workerGroupSpecs": [{"groupName": "small", "replicas": 3}]}),
    )
    .await?;
    wait_phase(&client, &ns, "c1", Phase::Ready).await?;
    wait_until("c1 has 3 workers", TIMEOUT, || async {
        Ok(pods(&client, &ns, "c1", "worker").await?.len() == 3)
    })
    .await?;
    // Keep the storm going for at least 10 s in all.
    let rest = Duration::from_secs(10).saturating_sub(storm.elapsed());
    tokio::time::sleep(rest).await; // the measurement window
    stop.store(true, Ordering::SeqCst);
    let rounds = writer.await?;
    let storm_time = storm.elapsed();
    let storm_writes = op.writes() - writes_before;
    let foreign_status = status_writes.load(Ordering::SeqCst);
    let foreign_labels = foreign.load(Ordering::SeqCst);

    // Each foreign change may provoke at most one write of rayop's (a status
    // rewrite, an Event), and the scale needs a handful; more than that, or
    // more than 30 writes a second, is a hot loop.
    let all_foreign = foreign_status + foreign_labels;
    let per_second = storm_writes as f64 / storm_time.as_secs_f64();
    assert!(
        storm_writes <= all_foreign + 30 && per_second <= 30.0,
        "{storm_writes} rayop writes ({per_second:.1}/s) against {all_foreign} foreign writes in {storm_time:?}"
    );

    // Quiet afterwards: a whole 5 s window without writes, reached within
    // 30 s (status changes held by pacing land within its window first).
    wait_phase(&client, &ns, "c2", Phase::Ready).await?;
    let quiet_by = Instant::now() + Duration::from_secs(30);
    let mut windows = 0;
    loop {
        let settled = op.writes();
        tokio::time::sleep(Duration::from_secs(5)).await; // the measurement window
        windows += 1;
        if op.writes() == settled {
            break;
        }
        assert!(
            Instant::now() < quiet_by,
            "rayop kept writing after the other writer stopped ({windows} windows)"
        );
    }

    // The other writer's labels survived every apply of rayop's.
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    for name in ["c1-head", "c1-small", "c2-head", "c2-small"] {
        let s = sts.get(name).await?;
        let labels = s.metadata.labels.unwrap_or_default();
        assert_eq!(
            labels.get(OTHER).map(String::as_str),
            Some(rounds.to_string().as_str()),
            "{name} lost the other writer's label"
        );
        assert!(
            labels.contains_key("ray.io/cluster"),
            "{name} lost rayop's label"
        );
    }
    // Exactly the desired objects.
    for name in ["c1", "c2"] {
        let owned = sts
            .list(&kube::api::ListParams::default().labels(&format!("ray.io/cluster={name}")))
            .await?
            .items;
        assert_eq!(owned.len(), 2, "{name}: duplicate or missing StatefulSets");
    }
    eprintln!(
        "conflicts: {rounds} rounds, {foreign_labels} foreign label writes, {foreign_status} foreign \
         status writes in {storm_time:.1?}; rayop wrote {storm_writes} times, then went quiet within {windows} windows of 5 s"
    );
    op.stop().await
}
