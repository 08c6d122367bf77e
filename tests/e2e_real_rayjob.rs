//! Real RayJobs under rayop: each RayJob's cluster runs as real processes
//! on the harness's process node with Ray from PyPI, and its entrypoint is a
//! real Python driver submitted by a real `ray job submit` or over the real
//! dashboard's HTTP API. Nothing here fakes Ray or the operator's decisions:
//! what the RayJobs say comes from rayop watching real Ray.
//!
//! The tests run one at a time (the machine has two cores).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use anyhow::{Context, Result};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams},
};
use rayop::{
    crd::{
        RayCluster,
        rayjob::{JobDeploymentStatus, JobFailedReason, JobStatus, RayJob, RayJobStatus},
        status::Phase,
    },
    record::Record,
};
use rayop_machines::rayjob::{JobCommandKind, JobMachine};
use rayop_testenv::{TestEnv, wait_until};
use support::{real_ray::*, *};

/// The resync of the operator whose steady state is measured: each object
/// is reconciled again this often.
const STEADY_RESYNC: Duration = Duration::from_secs(5);

/// What a failed RayJob wait shows: the objects, the RayJobs' status and
/// the logs of what the RayJobs made.
fn jobs_diagnosis(env: &TestEnv, ns: &str) -> String {
    let run = |args: &[&str]| shown(env, args);
    [
        run(&[
            "get",
            "rayjobs,rayclusters,jobs,pods",
            "-n",
            ns,
            "-o",
            "wide",
        ]),
        run(&["get", "rayjobs", "-n", ns, "-o", "yaml"]),
        run(&["get", "events", "-n", ns, "--sort-by=.lastTimestamp"]),
        run(&[
            "logs",
            "-n",
            ns,
            "-l",
            "ray.io/originated-from-crd=RayJob",
            "--tail",
            "50",
        ]),
    ]
    .join("\n")
}

/// The status of each RayJob in `ns`, by name.
async fn statuses(client: &Client, ns: &str) -> Result<BTreeMap<String, RayJobStatus>> {
    Ok(Api::<RayJob>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|j| {
            (
                j.metadata.name.clone().unwrap_or_default(),
                j.status.unwrap_or_default(),
            )
        })
        .collect())
}

/// Polls the RayJobs of `ns` until `done` holds of their statuses, feeding
/// every poll's statuses to `seen` first; a timeout shows [`jobs_diagnosis`].
async fn wait_jobs(
    env: &TestEnv,
    ns: &str,
    what: &str,
    mut seen: impl FnMut(&BTreeMap<String, RayJobStatus>),
    done: impl Fn(&BTreeMap<String, RayJobStatus>) -> bool,
) -> Result<BTreeMap<String, RayJobStatus>> {
    let client = env.client();
    let last = std::sync::Mutex::new(BTreeMap::new());
    let seen = std::sync::Mutex::new(&mut seen);
    wait_until(what, 2 * RAY_TIMEOUT, || async {
        let now = statuses(&client, ns).await?;
        (seen.lock().unwrap())(&now);
        let ok = done(&now);
        *last.lock().unwrap() = now;
        Ok(ok)
    })
    .await
    .with_context(|| jobs_diagnosis(env, ns))?;
    Ok(last.into_inner().unwrap())
}

/// Whether `status` is `deployment` with Ray's `job` status.
fn is(status: Option<&RayJobStatus>, deployment: JobDeploymentStatus, job: JobStatus) -> bool {
    status.is_some_and(|s| s.job_deployment_status == Some(deployment) && s.job_status == Some(job))
}

/// How many commands of `kind` the records hold.
fn issued(records: &[Record<JobMachine>], kind: JobCommandKind) -> usize {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Commands(commands) => Some(commands),
            _ => None,
        })
        .flatten()
        .filter(|c| c.kind() == kind)
        .count()
}

/// The UID of RayJob `name`.
async fn job_uid(client: &Client, ns: &str, name: &str) -> Result<String> {
    must(
        ray_job(client, ns, name).await?.metadata.uid,
        "a RayJob UID",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rayjobs_run_a_real_entrypoint_to_success_and_their_clusters_go() -> Result<()> {
    let t = RealRay::start("real-job", "tests/fixtures/real-ray/rayjobs.yaml").await?;
    let (env, ns, client) = (&t.env, &t.ns, &t.client);
    let jobs = ["by-submitter", "over-http"];
    // Each RayJob gets a cluster of its own, the job runs there, and once
    // it succeeded the cluster is deleted (`shutdownAfterJobFinishes`).
    let seen_clusters = std::sync::Mutex::new(BTreeSet::<String>::new());
    wait_until(
        "both RayJobs Complete and SUCCEEDED, their clusters gone",
        RAY_TIMEOUT,
        || async {
            let mut done = true;
            for name in jobs {
                let job = ray_job(client, ns, name).await?;
                let status = job.status.unwrap_or_default();
                if let Some(cluster) = status.ray_cluster_name.clone() {
                    seen_clusters.lock().unwrap().insert(cluster);
                }
                done &= status.job_deployment_status == Some(JobDeploymentStatus::Complete)
                    && status.job_status == Some(JobStatus::Succeeded);
            }
            Ok(done
                && clusters(client, ns)
                    .list(&ListParams::default())
                    .await?
                    .items
                    .is_empty())
        },
    )
    .await
    .with_context(|| jobs_diagnosis(env, ns))?;
    let seen = seen_clusters.into_inner().unwrap();
    assert_eq!(seen.len(), 2, "one cluster per RayJob: {seen:?}");

    // The submitter's log holds the driver's output: the job really ran.
    let submitter = env
        .kubectl()
        .args([
            "logs",
            "-n",
            ns,
            "-l",
            "ray.io/originated-from-cr-name=by-submitter",
            "--tail",
            "-1",
        ])
        .output()?;
    let log = String::from_utf8_lossy(&submitter.stdout);
    assert!(log.contains("ANSWER 42"), "the submitter's log: {log}");

    // The journal holds each decision: a submitter for one, an HTTP
    // submission for the other, each exactly once.
    for (name, kind) in [
        ("by-submitter", JobCommandKind::CreateSubmitter),
        ("over-http", JobCommandKind::SubmitHttp),
    ] {
        let job = ray_job(client, ns, name).await?;
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let issued = issued(&t.op().records_of::<JobMachine>(&uid), kind);
        assert_eq!(issued, 1, "{name}: {kind} journaled once");
    }
    t.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_retry_deadlines_stop_selected_clusters_stay_and_suspended_jobs_resume()
-> Result<()> {
    let needs = Needs {
        resync: Some(STEADY_RESYNC),
        ..Needs::default()
    };
    let t = RealRay::start_with(
        "real-job-edges",
        "tests/fixtures/real-ray/rayjob-edges.yaml",
        needs,
    )
    .await?;
    let (env, ns, client) = (&t.env, &t.ns, &t.client);

    // A suspended RayJob creates nothing; resumed, it runs.
    wait_jobs(
        env,
        ns,
        "held Suspended",
        |_| {},
        |s| {
            s.get("held").and_then(|s| s.job_deployment_status)
                == Some(JobDeploymentStatus::Suspended)
        },
    )
    .await?;
    let held = clusters(client, ns)
        .list(&ListParams::default().labels("ray.io/originated-from-cr-name=held"))
        .await?;
    assert!(held.items.is_empty(), "a suspended RayJob has no cluster");
    Api::<RayJob>::namespaced(client.clone(), ns)
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"suspend": false}})),
        )
        .await?;

    // A job past its deadline, on the shared cluster once its head runs.
    wait_phase_within(client, ns, "shared", Phase::Ready, RAY_TIMEOUT)
        .await
        .with_context(|| jobs_diagnosis(env, ns))?;
    env.apply_yaml(
        &repo().join("tests/fixtures/real-ray/rayjob-deadline.yaml"),
        Some(ns),
    )
    .await?;

    let mut clusters_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut deadline_ran = false;
    let end = wait_jobs(
        env,
        ns,
        "retries and deadline Failed, on-shared and held Complete",
        |now| {
            for (name, s) in now {
                if let Some(c) = &s.ray_cluster_name {
                    clusters_of
                        .entry(name.clone())
                        .or_default()
                        .insert(c.clone());
                }
            }
            deadline_ran |=
                now.get("deadline").and_then(|s| s.job_status) == Some(JobStatus::Running);
        },
        |now| {
            let failed = |name: &str| {
                now.get(name).and_then(|s| s.job_deployment_status)
                    == Some(JobDeploymentStatus::Failed)
            };
            failed("retries")
                && failed("deadline")
                && is(
                    now.get("on-shared"),
                    JobDeploymentStatus::Complete,
                    JobStatus::Succeeded,
                )
                && is(
                    now.get("held"),
                    JobDeploymentStatus::Complete,
                    JobStatus::Succeeded,
                )
        },
    )
    .await?;

    // A failing entrypoint: backoffLimit 1 is one retry, on a new cluster.
    let retries = &end["retries"];
    assert_eq!(
        retries.reason,
        Some(JobFailedReason::AppFailed),
        "{retries:?}"
    );
    assert_eq!(retries.failed, Some(2), "two attempts failed: {retries:?}");
    assert_eq!(
        clusters_of["retries"].len(),
        2,
        "one cluster per attempt: {clusters_of:?}"
    );
    // activeDeadlineSeconds stops a job that was running.
    let deadline = &end["deadline"];
    assert!(deadline_ran, "the deadline job never ran");
    assert_eq!(
        deadline.reason,
        Some(JobFailedReason::DeadlineExceeded),
        "{deadline:?}"
    );
    // clusterSelector: the job ran on `shared`, which stays.
    assert_eq!(end["on-shared"].ray_cluster_name.as_deref(), Some("shared"));
    let shared = clusters(client, ns).get("shared").await?;
    assert!(
        shared.metadata.deletion_timestamp.is_none(),
        "the selected cluster stays"
    );

    // The RayJobs' own clusters go once they end (shutdownAfterJobFinishes).
    wait_until("only the shared cluster left", RAY_TIMEOUT, || async {
        let left: Vec<String> = clusters(client, ns)
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|c: RayCluster| c.metadata.name)
            .collect();
        Ok(left == ["shared"])
    })
    .await
    .with_context(|| jobs_diagnosis(env, ns))?;

    // The journal: one submission per attempt, one stop at the deadline,
    // nothing created or deleted for the selected cluster, one cluster for
    // the resumed job.
    let op = t.op();
    let records = |name: &'static str| async move {
        Ok::<_, anyhow::Error>(op.records_of::<JobMachine>(&job_uid(client, ns, name).await?))
    };
    assert_eq!(
        issued(&records("retries").await?, JobCommandKind::SubmitHttp),
        2
    );
    assert_eq!(
        issued(&records("deadline").await?, JobCommandKind::StopJob),
        1
    );
    for selected in ["on-shared", "deadline"] {
        let records = records(selected).await?;
        assert_eq!(issued(&records, JobCommandKind::CreateCluster), 0);
        assert_eq!(issued(&records, JobCommandKind::DeleteCluster), 0);
    }
    assert_eq!(
        issued(&records("held").await?, JobCommandKind::CreateCluster),
        1
    );

    // Steady state: four finished RayJobs and a Ready cluster, reconciled
    // every resync, write nothing. The window is a measurement, not a wait
    // for something to happen.
    let settled = std::sync::Mutex::new(op.writes());
    wait_until("writes settle", RAY_TIMEOUT, || async {
        let before = *settled.lock().unwrap();
        tokio::time::sleep(STEADY_RESYNC + Duration::from_secs(1)).await;
        let now = op.writes();
        *settled.lock().unwrap() = now;
        Ok(now == before)
    })
    .await
    .with_context(|| {
        let w = &op.handles.writes;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        format!(
            "writes: applies {} deletes {} status {} events {}\n{}",
            load(&w.applies),
            load(&w.deletes),
            load(&w.status),
            load(&w.events),
            jobs_diagnosis(env, ns)
        )
    })?;
    let before = op.writes();
    tokio::time::sleep(4 * STEADY_RESYNC).await;
    assert_eq!(op.writes() - before, 0, "API writes in steady state");
    t.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_operator_neither_resubmits_nor_loses_jobs_and_a_lost_head_fails_its_job()
-> Result<()> {
    let needs = Needs {
        own_operator: true,
        ..Needs::default()
    };
    let t = RealRay::start_with(
        "real-job-kill",
        "tests/fixtures/real-ray/rayjob-interruptions.yaml",
        needs,
    )
    .await?;
    let (env, ns, client) = (&t.env, &t.ns, &t.client);
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal");
    let log = dir.path().join("rayop.log");
    let log_tail = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };

    let mut first = operator_process(env.kubeconfig(), ns, &journal, &log)?;
    let jobs = ["steady-http", "steady-submitter", "head-dies"];
    wait_jobs(
        env,
        ns,
        "all three RayJobs running in Ray",
        |_| {},
        |now| {
            jobs.iter().all(|j| {
                is(
                    now.get(*j),
                    JobDeploymentStatus::Running,
                    JobStatus::Running,
                )
            })
        },
    )
    .await
    .with_context(log_tail)?;

    // SIGKILL mid-run, and a new operator on the same journal.
    first.kill().await?;
    let mut second = operator_process(env.kubeconfig(), ns, &journal, &log)?;

    // The head of `head-dies` loses its Ray processes: it restarts with an
    // empty GCS, and the job it ran is gone with it.
    let cluster = must(
        ray_job(client, ns, "head-dies")
            .await?
            .status
            .and_then(|s| s.ray_cluster_name),
        "head-dies's cluster",
    )?;
    let head = head_pod(client, ns, &cluster).await?;
    let killed = kill_in_pod(container_pid(&head, "ray-head")?, "gcs_server")?;
    assert!(killed > 0, "no gcs_server process in the head pod");

    let end = wait_jobs(
        env,
        ns,
        "the steady jobs Complete, head-dies Failed",
        |_| {},
        |now| {
            is(
                now.get("steady-http"),
                JobDeploymentStatus::Complete,
                JobStatus::Succeeded,
            ) && is(
                now.get("steady-submitter"),
                JobDeploymentStatus::Complete,
                JobStatus::Succeeded,
            ) && now.get("head-dies").and_then(|s| s.job_deployment_status)
                == Some(JobDeploymentStatus::Failed)
        },
    )
    .await
    .with_context(log_tail)?;
    let lost = &end["head-dies"];
    assert_eq!(lost.reason, Some(JobFailedReason::JobLost), "{lost:?}");
    let message = lost.message.clone().unwrap_or_default();
    assert!(
        message.contains("head restarted"),
        "the status says why: {message}"
    );

    let uids = [
        job_uid(client, ns, "steady-http").await?,
        job_uid(client, ns, "steady-submitter").await?,
        job_uid(client, ns, "head-dies").await?,
    ];
    second.kill().await?;
    let (journal, report) =
        rayop_journal::Journal::open(&journal, rayop_journal::Options::default())?;
    assert!(report.is_clean(), "{report:?}");
    let records = |uid: &str| {
        journal
            .read_from::<Record<JobMachine>>(uid, 1)
            .map(|es| es.into_iter().map(|e| e.payload).collect::<Vec<_>>())
    };
    // One attempt each, each submitted once, across both operators.
    for (uid, submission) in [
        (&uids[0], JobCommandKind::SubmitHttp),
        (&uids[1], JobCommandKind::CreateSubmitter),
        (&uids[2], JobCommandKind::SubmitHttp),
    ] {
        let records = records(uid)?;
        assert_eq!(issued(&records, submission), 1, "{uid}: {submission} once");
        assert_eq!(
            issued(&records, JobCommandKind::CreateCluster),
            1,
            "{uid}: one cluster"
        );
    }
    // The submitter's pod ran once and saw the job through.
    let submitter = env
        .kubectl()
        .args([
            "logs",
            "-n",
            ns,
            "-l",
            "ray.io/originated-from-cr-name=steady-submitter",
        ])
        .args(["--tail", "-1"])
        .output()?;
    let out = String::from_utf8_lossy(&submitter.stdout);
    let printed = out.lines().filter(|l| l.trim() == "DONE").count();
    assert_eq!(printed, 1, "the driver ran once: {out}");
    drop(journal);

    // The journal lost: a new operator with an empty one goes on from the
    // stored statuses. Nothing is created again, nothing runs again.
    let before = statuses(client, ns).await?;
    let clusters_before = clusters(client, ns)
        .list(&ListParams::default())
        .await?
        .items
        .len();
    let mut third = operator_process(env.kubeconfig(), ns, &dir.path().join("empty"), &log)?;
    for name in jobs {
        wait_event(
            client,
            ns,
            &format!("{name} resumed from its status"),
            |e| {
                e.reason.as_deref() == Some("ResumedFromStatus")
                    && e.involved_object.name.as_deref() == Some(name)
            },
        )
        .await
        .with_context(log_tail)?;
    }
    let after = statuses(client, ns).await?;
    third.kill().await?;
    for name in jobs {
        let (b, a) = (&before[name], &after[name]);
        assert_eq!(
            (
                a.job_deployment_status,
                a.job_status,
                a.failed,
                a.succeeded,
                &a.ray_cluster_name
            ),
            (
                b.job_deployment_status,
                b.job_status,
                b.failed,
                b.succeeded,
                &b.ray_cluster_name
            ),
            "{name}: the status went on unchanged"
        );
    }
    let clusters_after = clusters(client, ns)
        .list(&ListParams::default())
        .await?
        .items
        .len();
    assert_eq!(clusters_after, clusters_before, "no cluster created again");
    t.finish().await
}
