//! The operator as it runs in a cluster, end to end on the local control
//! plane: separate `rayop run` processes with leader election, their HTTP
//! endpoints, and graceful shutdown.
//!
//! - Failover: two processes, one Lease; only the leader writes; SIGKILL of
//!   the leader hands over within the lease duration and clusters keep
//!   converging; SIGTERM hands over at once (the Lease is released).
//! - A leader paused past its lease (SIGSTOP) finds the Lease taken when it
//!   resumes, steps down and exits 1.
//! - `/metrics` has every family with plausible values after a lifecycle, and
//!   `/debug/journal/<ns>/<name>` on the debug listener (loopback, open)
//!   serves the same bytes as `rayop journal export` of the stopped journal;
//!   the metrics listener answers it 404.
//! - SIGTERM in the middle of a reconcile: exit 0, a verified journal in which
//!   every decision's commands have their results.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fixtures/deploy/operator_process.rs"]
mod process;
mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use process::{
    Election, OperatorProcess, Spawn, lease_holder, request, sample, sum, writes_besides_the_lease,
};
use rayop::{
    cli::journal::fetch,
    crd::{RayCluster, status::Phase, test_builders::group},
    record::Record,
};
use rayop_testenv::wait_until;
use support::*;

fn spawn_options(
    env_kubeconfig: &std::path::Path,
    ns: &str,
    dir: &std::path::Path,
    who: &str,
) -> Spawn {
    Spawn {
        kubeconfig: env_kubeconfig.to_path_buf(),
        namespaces: vec![ns.to_owned()],
        journal: dir.join(format!("journal-{who}")),
        log: dir.join(format!("{who}.log")),
        election: None,
    }
}

fn small(name: &str, ns: &str, replicas: i32) -> RayCluster {
    cluster(
        RayCluster::test(name).with_group(group("small").with_replicas(replicas).bounds(0, 5)),
        ns,
    )
}

async fn wait_workers(client: &kube::Client, ns: &str, name: &str, n: i32) -> Result<()> {
    wait_until(
        &format!("{ns}/{name} Ready with {n} workers"),
        TIMEOUT,
        || async {
            let c = clusters(client, ns).get(name).await?;
            let status = c.status.unwrap_or_default();
            Ok(status.phase == Some(Phase::Ready)
                && status.ready_worker_replicas == Some(n)
                && status.observed_generation == c.metadata.generation)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_a_standby_takes_over_within_the_lease_duration() -> Result<()> {
    let (env, ns) = setup("failover").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;
    let lease = "rayop-leader";
    let with = |who: &str| Spawn {
        election: Some(Election::defaults(lease, &ns, who)),
        ..spawn_options(env.kubeconfig(), &ns, dir.path(), who)
    };

    let mut a = OperatorProcess::spawn(&with("op-a")).await?;
    wait_until("op-a leads", TIMEOUT, || async {
        Ok(lease_holder(&client, &ns, lease).await?.as_deref() == Some("op-a"))
    })
    .await?;
    let mut b = OperatorProcess::spawn(&with("op-b")).await?;
    let ready_b = b.get("/readyz").await?;
    ensure!(
        ready_b.status == 200 && ready_b.text().starts_with("standby"),
        "a standby is ready as a standby: {ready_b:?}"
    );

    create(&client, &small("fo", &ns, 2)).await?;
    wait_workers(&client, &ns, "fo", 2).await?;
    let (ma, mb) = (a.metrics().await?, b.metrics().await?);
    ensure!(
        sample(&ma, "rayop_leader") == Some(1.0),
        "op-a is the leader"
    );
    ensure!(sample(&mb, "rayop_leader") == Some(0.0), "op-b stands by");
    ensure!(
        writes_besides_the_lease(&ma) > 0.0,
        "the leader wrote:\n{ma}"
    );
    ensure!(
        writes_besides_the_lease(&mb) == 0.0,
        "the standby wrote nothing:\n{mb}"
    );

    // SIGKILL the leader: no release, the standby must wait out the lease.
    a.kill().await?;
    let killed = Instant::now();
    wait_until("op-b takes the Lease", TIMEOUT, || async {
        Ok(lease_holder(&client, &ns, lease).await?.as_deref() == Some("op-b"))
    })
    .await?;
    let handover = killed.elapsed();
    println!("failover after SIGKILL of the leader: {handover:?}");
    // The standby takes over when the record it last saw has been silent for
    // the lease duration (15 s); it saw the last renewal at most one retry
    // period (2 s) after it happened, and the leader died after that renewal.
    ensure!(
        handover <= Duration::from_secs(15 + 2 + 1),
        "handover took {handover:?}"
    );
    wait_until("op-b reports itself the leader", TIMEOUT, || async {
        Ok(sample(&b.metrics().await?, "rayop_leader") == Some(1.0))
    })
    .await?;

    // Clusters keep converging under the new leader.
    patch_spec(
        &client,
        &ns,
        "fo",
        serde_json::json!({"workerGroupSpecs": [{"groupName": "small", "replicas": 3}]}),
    )
    .await?;
    wait_workers(&client, &ns, "fo", 3).await?;
    ensure!(
        writes_besides_the_lease(&b.metrics().await?) > 0.0,
        "op-b writes now"
    );

    // A clean stop hands over within one retry period: the Lease is released.
    let c = OperatorProcess::spawn(&with("op-c")).await?;
    b.signal("TERM")?;
    let stopped = Instant::now();
    ensure!(b.wait_exit(TIMEOUT).await?.success(), "SIGTERM exits 0");
    wait_until("op-c takes the released Lease", TIMEOUT, || async {
        Ok(lease_holder(&client, &ns, lease).await?.as_deref() == Some("op-c"))
    })
    .await?;
    let released = stopped.elapsed();
    println!("handover after SIGTERM of the leader (Lease released): {released:?}");
    ensure!(released <= Duration::from_secs(2 + 3), "took {released:?}");
    patch_spec(
        &client,
        &ns,
        "fo",
        serde_json::json!({"workerGroupSpecs": [{"groupName": "small", "replicas": 1}]}),
    )
    .await?;
    wait_workers(&client, &ns, "fo", 1).await?;
    drop(c);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_finds_its_lease_taken_and_exits_without_writing() -> Result<()> {
    let (env, ns) = setup("paused").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;
    let lease = "rayop-paused";
    let with = |who: &str| Spawn {
        election: Some(Election {
            seconds: (4, 3, 1),
            ..Election::defaults(lease, &ns, who)
        }),
        ..spawn_options(env.kubeconfig(), &ns, dir.path(), who)
    };
    let mut a = OperatorProcess::spawn(&with("op-a")).await?;
    wait_until("op-a leads", TIMEOUT, || async {
        Ok(lease_holder(&client, &ns, lease).await?.as_deref() == Some("op-a"))
    })
    .await?;
    let b = OperatorProcess::spawn(&with("op-b")).await?;

    a.signal("STOP")?;
    wait_until(
        "op-b takes the Lease from the paused leader",
        TIMEOUT,
        || async { Ok(lease_holder(&client, &ns, lease).await?.as_deref() == Some("op-b")) },
    )
    .await?;
    // Work arrives while op-a is paused: when it resumes, its watch delivers
    // it, and any write it would attempt is past its deadline.
    create(&client, &small("pz", &ns, 1)).await?;
    wait_workers(&client, &ns, "pz", 1).await?;
    a.signal("CONT")?;
    let status = a.wait_exit(TIMEOUT).await?;
    let log = a.log_text();
    ensure!(
        status.code() == Some(1),
        "exit 1 after losing the Lease ({status}):\n{log}"
    );
    ensure!(log.contains("lost the leader Lease"), "says why:\n{log}");
    ensure!(
        !log.contains("became the leader") || log.matches("became the leader").count() == 1,
        "never led again:\n{log}"
    );
    ensure!(
        lease_holder(&client, &ns, lease).await?.as_deref() == Some("op-b"),
        "op-b still leads"
    );
    let mb = b.metrics().await?;
    ensure!(sample(&mb, "rayop_leader") == Some(1.0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_serve_metrics_and_the_live_journal_after_a_lifecycle() -> Result<()> {
    let (env, ns) = setup("endpoints").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;
    let spawn = Spawn {
        election: Some(Election::defaults("rayop-endpoints", &ns, "op-e")),
        ..spawn_options(env.kubeconfig(), &ns, dir.path(), "op-e")
    };
    let mut op = OperatorProcess::spawn(&spawn).await?;
    op.wait_ready("ready\n").await?;

    let c = create(&client, &small("ep", &ns, 2)).await?;
    wait_workers(&client, &ns, "ep", 2).await?;
    patch_spec(
        &client,
        &ns,
        "ep",
        serde_json::json!({"workerGroupSpecs": [{"groupName": "small", "replicas": 3}]}),
    )
    .await?;
    wait_workers(&client, &ns, "ep", 3).await?;
    create(&client, &small("gone", &ns, 1)).await?;
    wait_workers(&client, &ns, "gone", 1).await?;
    clusters(&client, &ns)
        .delete("gone", &kube::api::DeleteParams::default())
        .await?;

    // /metrics: every family, with values a lifecycle must have produced.
    wait_until("clusters by phase settle", TIMEOUT, || async {
        let text = op.metrics().await?;
        Ok(sample(&text, "rayop_clusters{phase=\"Ready\"}") == Some(1.0))
    })
    .await?;
    let text = op.metrics().await?;
    let answer = op.get("/metrics").await?;
    ensure!(
        answer
            .content_type
            .starts_with("application/openmetrics-text")
    );
    let at_least = |series: &str, min: f64| -> Result<()> {
        let v = sample(&text, series).unwrap_or(-1.0);
        ensure!(v >= min, "{series} = {v}, expected >= {min}\n{text}");
        Ok(())
    };
    at_least("rayop_reconciles_total{result=\"ok\"}", 3.0)?;
    at_least("rayop_reconcile_duration_seconds_count{result=\"ok\"}", 3.0)?;
    at_least(
        "rayop_transitions_total{from=\"Pending\",to=\"HeadStarting\"}",
        2.0,
    )?;
    at_least(
        "rayop_transitions_total{from=\"HeadStarting\",to=\"Scaling\"}",
        2.0,
    )?;
    at_least(
        "rayop_transitions_total{from=\"Scaling\",to=\"Ready\"}",
        3.0,
    )?;
    at_least(
        "rayop_transitions_total{from=\"Ready\",to=\"Scaling\"}",
        1.0,
    )?;
    at_least(
        "rayop_api_writes_total{verb=\"apply\",kind=\"StatefulSet\"}",
        4.0,
    )?;
    at_least(
        "rayop_api_writes_total{verb=\"apply\",kind=\"Service\"}",
        2.0,
    )?;
    at_least(
        "rayop_api_writes_total{verb=\"apply\",kind=\"RayCluster/status\"}",
        3.0,
    )?;
    at_least(
        "rayop_api_writes_total{verb=\"create\",kind=\"Event\"}",
        3.0,
    )?;
    at_least(
        "rayop_api_writes_total{verb=\"update\",kind=\"Lease\"}",
        1.0,
    )?;
    at_least("rayop_journal_append_duration_seconds_count", 6.0)?;
    at_least("rayop_journal_append_bytes_total", 1000.0)?;
    let sum_seconds =
        sample(&text, "rayop_reconcile_duration_seconds_sum{result=\"ok\"}").unwrap_or(-1.0);
    ensure!(
        sum_seconds > 0.0 && sum_seconds < 600.0,
        "reconcile time is plausible: {sum_seconds}"
    );
    for (series, value) in [
        ("rayop_leader", 1.0),
        ("rayop_clusters{phase=\"Pending\"}", 0.0),
        ("rayop_clusters{phase=\"Scaling\"}", 0.0),
        ("rayop_journal_damage_total{when=\"open\"}", 0.0),
        ("rayop_journal_damage_total{when=\"operation\"}", 0.0),
        ("rayop_reconciles_total{result=\"error\"}", 0.0),
        ("rayop_build_info{version=\"0.1.0\"}", 1.0),
    ] {
        ensure!(
            sample(&text, series) == Some(value),
            "{series} = {:?}, expected {value}\n{text}",
            sample(&text, series)
        );
    }
    ensure!(
        sum(&text, "rayop_api_writes_refused_total", |_| true) == 0.0,
        "nothing refused"
    );

    // /debug/journal, on the debug listener: the cluster's timeline, parsed
    // as the CLI parses an export.
    let base = op.debug_url();
    let streams = fetch::fetch_streams(&base, &format!("{ns}/ep"), None).await?;
    ensure!(
        streams.len() == 1 && streams[0].id == uid(&c),
        "one stream, the cluster's"
    );
    let transitions: Vec<(String, String)> = streams[0]
        .entries
        .iter()
        .map(|e| rayop::journal_view::load::decode::<Record>(e.version, &e.payload))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?
        .into_iter()
        .filter_map(|r| match r {
            Record::Transition { from, to } => Some((from.to_string(), to.to_string())),
            _ => None,
        })
        .collect();
    let path = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    ensure!(
        transitions
            == path(&[
                ("Pending", "HeadStarting"),
                ("HeadStarting", "Scaling"),
                ("Scaling", "Ready"),
                ("Ready", "Scaling"),
                ("Scaling", "Ready"),
            ]),
        "timeline: {transitions:?}"
    );
    let deleted = fetch::fetch_streams(&base, &format!("{ns}/gone"), None).await?;
    ensure!(
        deleted.len() == 1 && deleted[0].deleted_at.is_some(),
        "a deleted cluster's stream stays readable"
    );
    for (method, path, status) in [
        ("GET", format!("/debug/journal/{ns}/nope"), 404),
        ("GET", format!("/debug/journal/{ns}"), 400),
        ("GET", "/debug/journal/NS/x".to_owned(), 400),
        ("POST", format!("/debug/journal/{ns}/ep"), 405),
        ("GET", "/nowhere".to_owned(), 404),
        ("GET", "/metrics".to_owned(), 404),
    ] {
        let got = request(&op.debug_addr, method, &path).await?.status;
        ensure!(got == status, "{method} {path}: {got}, expected {status}");
    }
    // The metrics listener no longer serves the journal, and says where it went.
    let moved = request(&op.addr, "GET", &format!("/debug/journal/{ns}/ep")).await?;
    ensure!(
        moved.status == 404 && moved.text().contains("--debug-addr"),
        "/debug/journal on the metrics listener: {} {}",
        moved.status,
        moved.text()
    );

    // `rayop journal show --from-url` reads the running operator's journal.
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_rayop"))
        .args(["journal", "show", &format!("{ns}/ep"), "--from-url", &base])
        .output()?;
    let timeline = String::from_utf8_lossy(&shown.stdout);
    ensure!(
        shown.status.success()
            && timeline.contains("Pending → HeadStarting")
            && timeline.contains("Scaling → Ready"),
        "journal show --from-url: {timeline}{}",
        String::from_utf8_lossy(&shown.stderr)
    );

    // The same bytes as `rayop journal export` of the journal once stopped
    // (nothing is appended in steady state, so nothing changed in between).
    let live = fetch::fetch_journal(&base, &format!("{ns}/ep"), None).await?;
    op.signal("TERM")?;
    ensure!(op.wait_exit(TIMEOUT).await?.success(), "SIGTERM exits 0");
    let exported = std::process::Command::new(env!("CARGO_BIN_EXE_rayop"))
        .args([
            "journal",
            "export",
            "--stream",
            &format!("{ns}/ep"),
            "--journal",
        ])
        .arg(&spawn.journal)
        .output()?;
    ensure!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    ensure!(
        exported.stdout == live,
        "the endpoint and the CLI export differ:\n{}\n---\n{}",
        String::from_utf8_lossy(&live),
        String::from_utf8_lossy(&exported.stdout)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_reconciles_flushes_the_journal_and_exits_0() -> Result<()> {
    let (env, ns) = setup("sigterm").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;
    let spawn = spawn_options(env.kubeconfig(), &ns, dir.path(), "op-t");
    let mut op = OperatorProcess::spawn(&spawn).await?;
    op.wait_ready("ready\n").await?;
    // Several clusters at once, and SIGTERM as soon as the first decision is
    // journaled: reconciles are in flight.
    let mut uids = Vec::new();
    for name in ["t1", "t2", "t3", "t4"] {
        uids.push(uid(&create(&client, &small(name, &ns, 2)).await?));
    }
    let base = op.debug_url();
    wait_until("a first decision is journaled", TIMEOUT, || async {
        Ok(fetch::fetch_journal(&base, &format!("{ns}/t1"), None)
            .await
            .is_ok())
    })
    .await?;
    op.signal("TERM")?;
    let status = op.wait_exit(TIMEOUT).await?;
    ensure!(
        status.success(),
        "SIGTERM exits 0 ({status}):\n{}",
        op.log_text()
    );

    let (journal, report) =
        rayop_journal::Journal::open(&spawn.journal, rayop_journal::Options::default())?;
    ensure!(report.is_clean(), "{report:?}");
    ensure!(journal.verify()?.is_ok(), "the journal verifies");
    let mut decisions = 0;
    for uid in &uids {
        let records: Vec<Record> = match journal.read_from::<Record>(uid, 1) {
            Ok(entries) => entries.into_iter().map(|e| e.payload).collect(),
            Err(rayop_journal::Error::UnknownStream { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        // Every decision with commands that write is followed by their results.
        for (i, r) in records.iter().enumerate() {
            if let Record::Commands(commands) = r
                && commands.iter().any(|c| c.kind().writes_at_once())
            {
                decisions += 1;
                ensure!(
                    matches!(records.get(i + 1), Some(Record::Results(_))),
                    "commands without results in {uid}: {records:?}"
                );
            }
        }
    }
    ensure!(decisions >= 1, "at least one decision was journaled");
    Ok(())
}
