//! End-to-end: `spec.upgradeStrategy` on the local control plane.
//! `Recreate` replaces all pods of a changed worker StatefulSet at once
//! (rayop deletes them, journaled as `DeletePods(TemplateChanged)`) and makes
//! an autoscaled group's Deployment `Recreate`;
//! `None` makes the StatefulSets `OnDelete`, so a template change leaves the
//! running pods alone while the cluster is Ready again; and a RayJob's
//! cluster with the field is an InvalidSpec naming it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use crate::support::*;
use anyhow::Result;
use kube::ResourceExt;
use rayop::crd::{
    RayCluster,
    status::Phase,
    test_builders::group,
    upgrade::{UpgradeStrategy, UpgradeType},
};
use rayop::record::Record;
use rayop_machines::{Command, DeleteReason};
use rayop_testenv::wait_until;

fn with_strategy(name: &str, type_: UpgradeType, workers: i32) -> RayCluster {
    let mut c =
        RayCluster::test(name).with_group(group("small").with_replicas(workers).bounds(0, 4));
    c.spec.upgrade_strategy = Some(UpgradeStrategy { type_: Some(type_) });
    c
}

async fn worker_uids(client: &kube::Client, ns: &str, name: &str) -> Result<BTreeSet<String>> {
    Ok(pods(client, ns, name, "worker")
        .await?
        .iter()
        .filter_map(|p| p.uid())
        .collect())
}

async fn change_worker_template(
    client: &kube::Client,
    ns: &str,
    name: &str,
    rev: &str,
) -> Result<()> {
    let api = clusters(client, ns);
    wait_until(
        &format!("{name}: worker template changed"),
        TIMEOUT,
        || async {
            let mut c = api.get(name).await?;
            c.spec.worker_group_specs[0]
                .template
                .get_or_insert_with(Default::default)
                .metadata
                .get_or_insert_with(Default::default)
                .annotations
                .get_or_insert_with(Default::default)
                .insert("test/rev".into(), rev.into());
            // A conflict means someone else wrote in between: read and try again.
            Ok(api
                .replace(name, &kube::api::PostParams::default(), &c)
                .await
                .is_ok())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_replaces_all_pods_and_none_leaves_them() -> Result<()> {
    let (env, ns) = setup("upgrade").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;

    create(
        &client,
        &cluster(with_strategy("recreate", UpgradeType::Recreate, 3), &ns),
    )
    .await?;
    create(
        &client,
        &cluster(with_strategy("keep", UpgradeType::None, 2), &ns),
    )
    .await?;
    let mut scaled = with_strategy("scaled", UpgradeType::Recreate, 1);
    scaled.spec.enable_in_tree_autoscaling = Some(true);
    create(&client, &cluster(scaled, &ns)).await?;
    for name in ["recreate", "keep", "scaled"] {
        converged(
            &client,
            &ns,
            name,
            if name == "recreate" {
                3
            } else if name == "keep" {
                2
            } else {
                1
            },
        )
        .await?;
    }

    // The strategies as the API server stored them: rayop replaces a
    // Recreate StatefulSet group's pods itself.
    let sts = must(
        statefulset(&client, &ns, "recreate-small").await?,
        "recreate-small",
    )?;
    let strategy = must(sts.spec.and_then(|s| s.update_strategy), "updateStrategy")?;
    assert_eq!(strategy.type_.as_deref(), Some("OnDelete"));
    let head = must(statefulset(&client, &ns, "keep-head").await?, "keep-head")?;
    assert_eq!(
        head.spec
            .and_then(|s| s.update_strategy)
            .and_then(|u| u.type_)
            .as_deref(),
        Some("OnDelete")
    );
    let deploy = must(
        deployment(&client, &ns, "scaled-small").await?,
        "scaled-small",
    )?;
    assert_eq!(
        deploy
            .spec
            .and_then(|s| s.strategy)
            .and_then(|s| s.type_)
            .as_deref(),
        Some("Recreate")
    );

    // Recreate: every worker pod is replaced.
    let before = worker_uids(&client, &ns, "recreate").await?;
    change_worker_template(&client, &ns, "recreate", "2").await?;
    wait_until("every recreate worker replaced", TIMEOUT, || async {
        let now = worker_uids(&client, &ns, "recreate").await?;
        Ok(now.len() == 3 && now.is_disjoint(&before))
    })
    .await?;
    converged(&client, &ns, "recreate", 3).await?;
    let recreate = clusters(&client, &ns).get("recreate").await?;
    let deleted_together = op.records(&uid(&recreate)).iter().any(|r| {
        matches!(r, Record::Commands(commands) if commands.iter().any(|c| matches!(
            c,
            Command::DeletePods { reason: DeleteReason::TemplateChanged, pods } if pods.len() == 3
        )))
    });
    assert!(
        deleted_together,
        "one decision deletes the three outdated pods"
    );

    // None: the change is applied, the cluster is Ready, and the running
    // workers are the same pods.
    let kept = worker_uids(&client, &ns, "keep").await?;
    change_worker_template(&client, &ns, "keep", "2").await?;
    let generation = clusters(&client, &ns)
        .get("keep")
        .await?
        .metadata
        .generation;
    wait_until("keep Ready at its new generation", TIMEOUT, || async {
        let c = clusters(&client, &ns).get("keep").await?;
        let status = c.status.unwrap_or_default();
        Ok(status.phase == Some(Phase::Ready) && status.observed_generation == generation)
    })
    .await?;
    let sts = must(statefulset(&client, &ns, "keep-small").await?, "keep-small")?;
    let annotations = sts
        .spec
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.annotations)
        .unwrap_or_default();
    assert_eq!(annotations.get("test/rev").map(String::as_str), Some("2"));
    assert_eq!(worker_uids(&client, &ns, "keep").await?, kept);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_strategy_on_a_rayjob_cluster_is_an_invalid_spec() -> Result<()> {
    let (env, ns) = setup("upgrade-origin").await?;
    let client = env.client();
    let _op = Operator::start(client.clone(), &[&ns]).await?;
    let mut c = with_strategy("job", UpgradeType::Recreate, 1);
    c.labels_mut()
        .insert("ray.io/originated-from-crd".into(), "RayJob".into());
    create(&client, &cluster(c, &ns)).await?;
    wait_until(
        "InvalidSpec naming spec.upgradeStrategy",
        TIMEOUT,
        || async {
            let c = clusters(&client, &ns).get("job").await?;
            let conditions = c.status.map(|s| s.conditions).unwrap_or_default();
            Ok(conditions.iter().any(|c| {
                c.type_ == "InvalidSpec"
                    && c.status == "True"
                    && c.message.contains("spec.upgradeStrategy")
            }))
        },
    )
    .await?;
    assert!(statefulset(&client, &ns, "job-head").await?.is_none());
    Ok(())
}
