//! Batch schedulers end to end: an operator started with each
//! `--batch-scheduler` hands every live pod to that scheduler (its
//! `schedulerName`, labels and annotations), creates Volcano's and
//! scheduler-plugins' PodGroups and follows them on scale, creates no
//! scheduler-plugins PodGroup without the gang label, and refuses bad flags
//! at start-up. The plane's second kube-scheduler (opt-in, see
//! `rayop_testenv::batch_schedulers`) answers to the schedulers' names, so
//! the pods really get scheduled and the clusters reach Ready; it does no
//! gang scheduling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use anyhow::{Result, ensure};
use k8s_openapi::{
    api::core::v1::{Pod, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use rayop::{
    build::{BatchScheduler, BuildOptions},
    controller::Settings,
    crd::{RayCluster, effective_worker_template, test_builders::group},
};
use rayop_testenv::{TestEnv, third_party_crds, wait_until};
use support::*;

/// The shared plane with rayop's CRD, the given third-party CRDs and the
/// second scheduler; a fresh namespace; an operator under `scheduler`.
async fn start(
    prefix: &str,
    scheduler: BatchScheduler,
    crds: &[&str],
) -> Result<(TestEnv, String, Operator)> {
    let (env, ns) = setup(prefix).await?;
    for name in crds {
        let name = (*name).to_owned();
        let dir = tokio::task::spawn_blocking(move || third_party_crds(&name)).await??;
        env.apply_crd(&dir).await?;
    }
    env.start_batch_schedulers().await?;
    let settings = Settings {
        build: BuildOptions {
            batch_scheduler: Some(scheduler),
            ..BuildOptions::default()
        },
        ..Settings::default()
    };
    let op = Operator::start_with(
        env.client(),
        &[&ns],
        rayop_journal::Options::default(),
        settings,
    )
    .await?;
    Ok((env, ns, op))
}

/// A cluster `name` with group `small` of `replicas` workers asking for
/// 100m CPU each, labelled and annotated as given.
fn labelled(name: &str, replicas: i32, labels: &[(&str, &str)]) -> RayCluster {
    let mut c =
        RayCluster::test(name).with_group(group("small").with_replicas(replicas).bounds(0, 4));
    let mut template = effective_worker_template(&c.spec, &c.spec.worker_group_specs[0]);
    if let Some(pod) = template.spec.as_mut() {
        pod.containers[0].resources = Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".into(), Quantity("100m".into()))])),
            ..ResourceRequirements::default()
        });
    }
    c.spec.worker_group_specs[0].template = Some(template);
    c.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    c
}

fn pod_groups(client: &Client, ns: &str, group: &str, version: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, version, "PodGroup");
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, "podgroups"),
    )
}

fn volcano_groups(client: &Client, ns: &str) -> Api<DynamicObject> {
    pod_groups(client, ns, "scheduling.volcano.sh", "v1beta1")
}

fn plugin_groups(client: &Client, ns: &str) -> Api<DynamicObject> {
    pod_groups(client, ns, "scheduling.x-k8s.io", "v1alpha1")
}

/// Every live pod of `name` (head and workers).
async fn all_pods(client: &Client, ns: &str, name: &str) -> Result<Vec<Pod>> {
    let mut all = pods(client, ns, name, "head").await?;
    all.extend(pods(client, ns, name, "worker").await?);
    Ok(all)
}

fn scheduler_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.scheduler_name.as_deref()
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// The group `ray.io/group` of a pod.
fn group_of(pod: &Pod) -> &str {
    label(pod, "ray.io/group").unwrap_or_default()
}

/// Sets `replicas` of the first group of `name`, keeping its template (a
/// merge patch would replace the whole group list).
async fn scale_first_group(client: &Client, ns: &str, name: &str, replicas: i32) -> Result<()> {
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": replicas}
    ]))?;
    clusters(client, ns)
        .patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await?;
    Ok(())
}

/// Waits until the PodGroup `name` has `minMember == members`.
async fn wait_min_member(
    api: &Api<DynamicObject>,
    name: &str,
    members: i64,
) -> Result<DynamicObject> {
    wait_until(
        &format!("PodGroup {name} with minMember {members}"),
        TIMEOUT,
        || async {
            Ok(api
                .get_opt(name)
                .await?
                .is_some_and(|pg| pg.data["spec"]["minMember"] == members))
        },
    )
    .await?;
    Ok(api.get(name).await?)
}

#[tokio::test]
async fn volcano_pods_and_pod_group_follow_the_cluster() -> Result<()> {
    let (env, ns, op) = start("volcano", BatchScheduler::Volcano, &["volcano"]).await?;
    let client = env.client();
    let c = labelled(
        "vc",
        1,
        &[
            ("volcano.sh/queue-name", "q1"),
            ("ray.io/priority-class-name", "high"),
            ("volcano.sh/network-topology-mode", "soft"),
            ("volcano.sh/network-topology-highest-tier-allowed", "2"),
        ],
    );
    create(&client, &cluster(c, &ns)).await?;
    converged(&client, &ns, "vc", 1).await?;
    let live = all_pods(&client, &ns, "vc").await?;
    ensure!(live.len() == 2, "a head and a worker");
    for pod in &live {
        ensure!(scheduler_name(pod) == Some("volcano"), "{:?}", pod.spec);
        ensure!(label(pod, "volcano.sh/queue-name") == Some("q1"));
        ensure!(label(pod, "ray.io/priority-class-name") == Some("high"));
        ensure!(annotation(pod, "scheduling.k8s.io/group-name") == Some("ray-vc-pg"));
        let task = if group_of(pod) == "small" {
            "small"
        } else {
            "headgroup"
        };
        ensure!(annotation(pod, "volcano.sh/task-spec") == Some(task));
        let spec = pod.spec.as_ref().unwrap();
        ensure!(spec.priority_class_name.is_none(), "no pod priority class");
    }

    let api = volcano_groups(&client, &ns);
    let pg = wait_min_member(&api, "ray-vc-pg", 2).await?;
    ensure!(pg.data["spec"]["queue"] == "q1", "{:?}", pg.data);
    ensure!(pg.data["spec"]["priorityClassName"] == "high");
    ensure!(pg.data["spec"]["networkTopology"]["mode"] == "soft");
    ensure!(pg.data["spec"]["networkTopology"]["highestTierAllowed"] == 2);
    // the default head template's 1 CPU and one 100m worker
    ensure!(pg.data["spec"]["minResources"]["cpu"] == "1100m");
    let owner = &pg.metadata.owner_references.as_ref().unwrap()[0];
    ensure!(owner.kind == "RayCluster" && owner.controller == Some(true));

    scale_first_group(&client, &ns, "vc", 3).await?;
    let pg = wait_min_member(&api, "ray-vc-pg", 4).await?;
    ensure!(
        pg.data["spec"]["minResources"]["cpu"] == "1300m",
        "{:?}",
        pg.data
    );
    converged(&client, &ns, "vc", 3).await?;

    // A cluster a RayJob made gets no PodGroup of its own, but its pods
    // still go to Volcano.
    let from_job = labelled("vj", 1, &[("ray.io/originated-from-crd", "RayJob")]);
    create(&client, &cluster(from_job, &ns)).await?;
    converged(&client, &ns, "vj", 1).await?;
    ensure!(
        api.get_opt("ray-vj-pg").await?.is_none(),
        "no PodGroup for a RayJob's cluster"
    );
    for pod in all_pods(&client, &ns, "vj").await? {
        ensure!(scheduler_name(&pod) == Some("volcano"));
    }
    op.stop().await
}

#[tokio::test]
async fn yunikorn_labels_and_task_groups() -> Result<()> {
    let (env, ns, op) = start("yunikorn", BatchScheduler::Yunikorn, &[]).await?;
    let client = env.client();
    let gang = labelled(
        "yk",
        2,
        &[
            ("yunikorn.apache.org/app-id", "app-7"),
            ("yunikorn.apache.org/queue", "root.ray"),
            ("ray.io/gang-scheduling-enabled", "true"),
        ],
    );
    create(&client, &cluster(gang, &ns)).await?;
    let plain = labelled("yp", 1, &[("yunikorn.apache.org/app-id", "app-8")]);
    create(&client, &cluster(plain, &ns)).await?;
    converged(&client, &ns, "yk", 2).await?;
    converged(&client, &ns, "yp", 1).await?;
    for pod in all_pods(&client, &ns, "yk").await? {
        ensure!(scheduler_name(&pod) == Some("yunikorn"));
        ensure!(label(&pod, "applicationId") == Some("app-7"));
        ensure!(label(&pod, "queue") == Some("root.ray"));
        let group = if group_of(&pod) == "small" {
            "small"
        } else {
            "headgroup"
        };
        ensure!(annotation(&pod, "yunikorn.apache.org/task-group-name") == Some(group));
        let groups: serde_json::Value = serde_json::from_str(
            annotation(&pod, "yunikorn.apache.org/task-groups").unwrap_or("null"),
        )?;
        ensure!(
            groups[0]["name"] == "headgroup" && groups[0]["minMember"] == 1,
            "{groups}"
        );
        ensure!(groups[1]["name"] == "small" && groups[1]["minResource"]["cpu"] == "100m");
    }
    for pod in all_pods(&client, &ns, "yp").await? {
        ensure!(scheduler_name(&pod) == Some("yunikorn"));
        ensure!(label(&pod, "applicationId") == Some("app-8"));
        ensure!(label(&pod, "queue").is_none());
        ensure!(annotation(&pod, "yunikorn.apache.org/task-groups").is_none());
    }
    op.stop().await
}

#[tokio::test]
async fn kai_scheduler_queue_label() -> Result<()> {
    let (env, ns, op) = start("kai", BatchScheduler::KaiScheduler, &[]).await?;
    let client = env.client();
    create(
        &client,
        &cluster(
            labelled("kai", 1, &[("kai.scheduler/queue", "team-a")]),
            &ns,
        ),
    )
    .await?;
    converged(&client, &ns, "kai", 1).await?;
    for pod in all_pods(&client, &ns, "kai").await? {
        ensure!(scheduler_name(&pod) == Some("kai-scheduler"));
        ensure!(label(&pod, "kai.scheduler/queue") == Some("team-a"));
    }
    op.stop().await
}

#[tokio::test]
async fn scheduler_plugins_pod_group_only_with_the_gang_label() -> Result<()> {
    let (env, ns, op) = start(
        "plugins",
        BatchScheduler::SchedulerPlugins,
        &["scheduler-plugins"],
    )
    .await?;
    let client = env.client();
    let gang = labelled("sg", 1, &[("ray.io/gang-scheduling-enabled", "true")]);
    create(&client, &cluster(gang, &ns)).await?;
    create(&client, &cluster(labelled("sn", 1, &[]), &ns)).await?;
    converged(&client, &ns, "sg", 1).await?;
    converged(&client, &ns, "sn", 1).await?;

    for pod in all_pods(&client, &ns, "sg").await? {
        ensure!(scheduler_name(&pod) == Some("scheduler-plugins-scheduler"));
        ensure!(label(&pod, "scheduling.x-k8s.io/pod-group") == Some("sg"));
    }
    for pod in all_pods(&client, &ns, "sn").await? {
        ensure!(scheduler_name(&pod) == Some("scheduler-plugins-scheduler"));
        ensure!(label(&pod, "scheduling.x-k8s.io/pod-group").is_none());
    }
    let api = plugin_groups(&client, &ns);
    let pg = wait_min_member(&api, "sg", 2).await?;
    ensure!(
        pg.data["spec"]["minResources"]["cpu"] == "1100m",
        "{:?}",
        pg.data
    );
    ensure!(
        api.get_opt("sn").await?.is_none(),
        "no PodGroup without the gang label"
    );

    scale_first_group(&client, &ns, "sg", 2).await?;
    wait_min_member(&api, "sg", 3).await?;
    converged(&client, &ns, "sg", 2).await?;
    ensure!(
        api.get_opt("sn").await?.is_none(),
        "still none without the gang label"
    );
    op.stop().await
}

/// `rayop run` with bad batch-scheduler flags stops at once, naming the flag.
#[test]
fn bad_batch_scheduler_flags_stop_the_operator() -> Result<()> {
    let rayop = env!("CARGO_BIN_EXE_rayop");
    for (flags, expected) in [
        (
            &["--batch-scheduler=kube-batch"][..],
            "--batch-scheduler=kube-batch",
        ),
        (
            &["--batch-scheduler=volcano", "--enable-batch-scheduler"][..],
            "--enable-batch-scheduler",
        ),
    ] {
        let out = std::process::Command::new(rayop)
            .arg("run")
            .args(["--no-journal", "--metrics-addr=127.0.0.1:0"])
            .args(flags)
            .env_remove("RAYOP_BATCH_SCHEDULER")
            .env_remove("RAYOP_ENABLE_BATCH_SCHEDULER")
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "{flags:?} must fail");
        ensure!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
    Ok(())
}
