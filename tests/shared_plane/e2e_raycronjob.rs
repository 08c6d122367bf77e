//! RayCronJobs on the local control plane: a schedule of every minute
//! creates one RayJob per minute, named by its tick, owned and stamped, and
//! `lastScheduleTime` follows; a suspended one creates nothing and says so;
//! a time zone that does not exist is refused in words. The RayJobs are
//! suspended, so no Ray runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::support::*;
use anyhow::{Context, Result};
use kube::{Api, ResourceExt, api::ListParams};
use rayop::{
    crd::{raycronjob::RayCronJob, rayjob::RayJob},
    record::Record,
};
use rayop_machines::raycronjob::{CronCommand, CronMachine};
use rayop_testenv::wait_until;

/// Three ticks of an every-minute schedule, and the first one's wait.
const THREE_MINUTES_AND_SOME: Duration = Duration::from_secs(4 * 60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_every_minute_schedule_makes_one_rayjob_a_minute_and_bad_ones_say_why() -> Result<()> {
    let (env, ns) = setup("cron").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    env.apply_yaml(
        &repo().join("tests/fixtures/raycronjob/schedules.yaml"),
        Some(&ns),
    )
    .await?;
    let crons: Api<RayCronJob> = Api::namespaced(client.clone(), &ns);
    let jobs: Api<RayJob> = Api::namespaced(client.clone(), &ns);

    // The bad ones say why, once, and make nothing.
    wait_event(&client, &ns, "the unknown zone refused", |e| {
        e.reason.as_deref() == Some("InvalidRayCronJobSpec")
            && e.involved_object.name.as_deref() == Some("nowhere")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("spec.timeZone"))
    })
    .await?;
    wait_event(&client, &ns, "the suspension announced", |e| {
        e.reason.as_deref() == Some("SuspendedRayCronJob")
            && e.involved_object.name.as_deref() == Some("held")
    })
    .await?;

    // Three ticks, a minute apart, one RayJob each.
    let children = |list: Vec<RayJob>| -> Vec<RayJob> {
        list.into_iter()
            .filter(|j| {
                j.labels().get("ray.io/cronjob-name").map(String::as_str) == Some("every-minute")
            })
            .collect()
    };
    wait_until(
        "three RayJobs of every-minute",
        THREE_MINUTES_AND_SOME,
        || async { Ok(children(jobs.list(&ListParams::default()).await?.items).len() >= 3) },
    )
    .await?;
    let all = jobs.list(&ListParams::default()).await?.items;
    let made = children(all.clone());
    assert_eq!(
        made.len(),
        all.len(),
        "only every-minute made RayJobs: {:?}",
        names(&all)
    );
    let cron = crons.get("every-minute").await?;
    let mut minutes: Vec<u64> = Vec::new();
    for job in &made {
        let minute: u64 = job
            .name_any()
            .strip_prefix("every-minute-")
            .and_then(|m| m.parse().ok())
            .with_context(|| format!("{} is not <cronjob>-<minute>", job.name_any()))?;
        let stamp = job
            .annotations()
            .get("ray.io/cronjob-scheduled-timestamp")
            .context("no scheduled timestamp")?;
        let tick: k8s_openapi::jiff::Timestamp = stamp.parse()?;
        assert_eq!(
            u64::try_from(tick.as_second())? / 60,
            minute,
            "{}: named by its tick {stamp}",
            job.name_any()
        );
        let owner = must(
            job.owner_references()
                .iter()
                .find(|o| o.controller == Some(true))
                .cloned(),
            "a controller",
        )?;
        assert_eq!(
            (owner.kind.as_str(), Some(owner.uid.as_str())),
            ("RayCronJob", cron.uid().as_deref())
        );
        assert_eq!(
            job.spec.entrypoint, cron.spec.job_template.entrypoint,
            "the template, verbatim"
        );
        minutes.push(minute);
    }
    minutes.sort_unstable();
    assert!(
        minutes.windows(2).all(|w| w[1] == w[0] + 1),
        "one RayJob a minute, none skipped or doubled: {minutes:?}"
    );
    // lastScheduleTime is the newest RayJob's tick.
    wait_until(
        "lastScheduleTime at the newest tick",
        Duration::from_secs(70),
        || async {
            let cron = crons.get("every-minute").await?;
            let newest = children(jobs.list(&ListParams::default()).await?.items)
                .iter()
                .filter_map(|j| {
                    j.name_any()
                        .strip_prefix("every-minute-")
                        .and_then(|m| m.parse::<i64>().ok())
                })
                .max();
            let last = cron
                .status
                .and_then(|s| s.last_schedule_time)
                .map(|t| t.0.as_second() / 60);
            Ok(last.is_some() && last == newest)
        },
    )
    .await?;

    // The journal holds one CreateRayJob per tick.
    let uid = must(cron.uid(), "a RayCronJob UID")?;
    let mut created: Vec<u64> = op
        .records_of::<CronMachine>(&uid)
        .into_iter()
        .filter_map(|r| match r {
            Record::Commands(commands) => Some(commands),
            _ => None,
        })
        .flatten()
        .filter_map(|c| match c {
            CronCommand::CreateRayJob { tick } => Some(tick.0 / 60_000),
            _ => None,
        })
        .collect();
    created.sort_unstable();
    let before = created.len();
    created.dedup();
    assert_eq!(before, created.len(), "one create per tick: {created:?}");
    assert!(
        minutes.iter().all(|m| created.contains(m)),
        "{minutes:?} in {created:?}"
    );
    op.stop().await
}

fn names(jobs: &[RayJob]) -> Vec<String> {
    jobs.iter().map(ResourceExt::name_any).collect()
}
