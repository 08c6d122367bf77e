//! The machine's timers reach it on the local control plane: a head that
//! can never be scheduled (it asks for 5,000,000 CPUs) stays HeadStarting, gets
//! exactly one `HeadNotReady` Warning once its stuck window has passed, and
//! from then on is reconciled at its requeue interval, not in a loop.
//!
//! The stuck window is 5 s here (`Settings::head_stuck_after`), the resync
//! 10 s. The counting window (40 s; `RAYOP_TIMERS_WINDOW_SECONDS=600` for
//! the long run) is a measurement, not a synchronisation: the assertion is
//! on how many reconciles happen in it (read from the operator's
//! `rayop_reconciles_total`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use crate::support::*;
use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::{Api, api::ListParams};
use rayop::{
    controller::Settings,
    crd::{RayCluster, status::Phase},
    record::Record,
};
use rayop_machines::{Command, Input};

const RESYNC: Duration = Duration::from_secs(10);

/// The counting window: 40 s, or `RAYOP_TIMERS_WINDOW_SECONDS`.
fn window() -> Duration {
    let seconds = std::env::var("RAYOP_TIMERS_WINDOW_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    Duration::from_secs(seconds)
}

/// A cluster whose head container requests more CPUs than any node has.
fn unschedulable(name: &str, ns: &str) -> Result<RayCluster> {
    let mut c = cluster(RayCluster::test(name).with_workers(1), ns);
    let mut template = rayop::crd::effective_head_template(&c.spec);
    let container = template
        .spec
        .as_mut()
        .and_then(|s| s.containers.first_mut());
    let container = must(container, "the default head template's container")?;
    container.resources = Some(serde_json::from_value(
        serde_json::json!({"requests": {"cpu": "5000000"}}),
    )?);
    c.spec
        .head_group_spec
        .get_or_insert_with(Default::default)
        .template = Some(template);
    Ok(c)
}

fn reconciles(op: &Operator) -> u64 {
    op.handles
        .metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("rayop_reconciles_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

async fn head_not_ready_events(client: &kube::Client, ns: &str) -> Result<usize> {
    let events: Api<KubeEvent> = Api::namespaced(client.clone(), ns);
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("HeadNotReady"))
        .count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_head_is_reported_once_and_reconciled_at_its_interval() -> Result<()> {
    let (env, ns) = setup("timers").await?;
    let client = env.client();
    let settings = Settings {
        resync: RESYNC,
        head_stuck_after: Some(Duration::from_secs(5)),
        ..Settings::default()
    };
    let op = Operator::start_with(
        client.clone(),
        &[&ns],
        rayop_journal::Options::default(),
        settings,
    )
    .await?;
    let created = create(&client, &unschedulable("stuck", &ns)?).await?;
    wait_phase(&client, &ns, "stuck", Phase::HeadStarting).await?;

    wait_event(&client, &ns, "a HeadNotReady Warning", |e| {
        e.reason.as_deref() == Some("HeadNotReady") && e.type_.as_deref() == Some("Warning")
    })
    .await?;
    let journaled_tick = op
        .records(&uid(&created))
        .iter()
        .any(|r| matches!(r, Record::Event(e) if e.input == Input::Tick));
    ensure!(journaled_tick, "the timer's Tick is in the journal");

    // Count reconciles over a window, once the Warning is out.
    let before = reconciles(&op);
    let started = Instant::now();
    let window = window();
    tokio::time::sleep(window).await;
    let during = reconciles(&op) - before;
    let allowed = window.as_secs() / RESYNC.as_secs() + 2;
    println!(
        "reconciles of a stuck cluster in {:.0} s: {during} (resync {} s, allowed {allowed})",
        started.elapsed().as_secs_f64(),
        RESYNC.as_secs()
    );
    ensure!(
        during <= allowed,
        "a stuck cluster was reconciled {during} times in {window:?}; its requeue is {RESYNC:?}"
    );
    // The recorder folds repeats into one Event object, so the journal,
    // which has every Announce, is what tells once from twice.
    let announced = op
        .records(&uid(&created))
        .iter()
        .filter_map(|r| match r {
            Record::Commands(commands) => Some(commands.clone()),
            _ => None,
        })
        .flatten()
        .filter(|c| matches!(c, Command::Announce(n) if n.reason == "HeadNotReady"))
        .count();
    ensure!(announced == 1, "HeadNotReady announced {announced} times");
    ensure!(
        head_not_ready_events(&client, &ns).await? == 1,
        "one HeadNotReady Event object"
    );
    let phase = clusters(&client, &ns)
        .get("stuck")
        .await?
        .status
        .and_then(|s| s.phase);
    ensure!(
        phase == Some(Phase::HeadStarting),
        "still HeadStarting: {phase:?}"
    );
    op.stop().await
}
