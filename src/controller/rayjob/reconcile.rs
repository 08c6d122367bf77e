//! One reconcile of one RayJob: observe → decide → journal → apply →
//! status, in that order, through the same turn as RayClusters.
//!
//! Invariants:
//! - A due timer is delivered first, as a `Tick`; then the observation of
//!   the current attempt.
//! - While the job can change on its own (a cluster starting, a job
//!   running), the RayJob is looked at again every [`POLL`], as KubeRay
//!   does; otherwise at the machine's next timer or the resync.
//! - In steady state (a finished RayJob) nothing is written.

use std::{sync::Arc, time::Duration};

use kube::{Resource, ResourceExt, api::DynamicObject, runtime::controller::Action};
use rayop_machines::{
    Event,
    rayjob::{JobInput, JobMachine, JobPhase, JobWorld, RayJobView},
};
use tracing::{Instrument, debug, warn};

use super::{
    context::{JobContext, JobMemory},
    interpret::JobInterpreter,
    observe,
    status::{self, JobFacts},
};
use crate::{
    build::rayjob::{self as build, JobSettings},
    controller::{
        error::ReconcileError,
        steps::{RETRY_AFTER_FAILURE, caches_synced, count, decode, now_millis, reference_of},
        turn::{Target, Turn, warn_event},
    },
    crd::{RayCluster, rayjob::RayJob},
    dashboard::{JobsApi, Lookup},
    interpret::Writes,
    journaling::StreamKind,
};

/// How often a RayJob whose job may change on its own is looked at.
pub const POLL: Duration = Duration::from_secs(3);

/// The reconcile entry point.
///
/// # Errors
/// Only errors worth a retry with backoff (status writes).
pub async fn reconcile(
    obj: Arc<DynamicObject>,
    ctx: Arc<JobContext>,
) -> Result<Action, ReconcileError> {
    let job: RayJob = match decode(&obj) {
        Ok(job) => job,
        Err(error) => {
            warn!(name = %obj.name_any(), %error, "skipping a RayJob that does not decode");
            let reference = reference_of::<RayJob>(&obj);
            warn_event(&ctx.recorder, &reference, error.reason(), error.to_string()).await;
            return Ok(Action::await_change());
        }
    };
    let Some(target) = Target::of(&job, StreamKind::RayJob) else {
        return Ok(Action::await_change());
    };
    if !job.spec.managed_by_rayop() || job.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if !caches_synced(&ctx.synced).await {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let span = tracing::info_span!("reconcile", rayjob = %target.key);
    run(&ctx, &job, &target).instrument(span).await
}

/// The attempt's RayCluster: cached when it is the RayJob's own, read by
/// name when `clusterSelector` chose it.
async fn attempt_cluster(
    ctx: &JobContext,
    job: &RayJob,
    namespace: &str,
    attempt: u32,
) -> Option<RayCluster> {
    if attempt == 0 {
        return None;
    }
    match job.spec.selected_cluster() {
        Some(name) => match observe::selected_cluster(&ctx.client, namespace, name).await {
            Ok(cluster) => cluster,
            Err(error) => {
                warn!(%error, cluster = name, "could not read the selected RayCluster");
                None
            }
        },
        None => ctx
            .caches
            .cluster(namespace, &build::names::cluster_name(job, attempt))
            .map(|c| (*c).clone()),
    }
}

/// The world of the current attempt.
async fn observe_world(
    ctx: &JobContext,
    job: &RayJob,
    namespace: &str,
    attempt: u32,
    phase: JobPhase,
    cluster: Option<&RayCluster>,
) -> JobWorld {
    let cluster_view = observe::cluster_view(cluster);
    let submitter = if attempt == 0 {
        None
    } else {
        ctx.caches
            .submitter(namespace, &build::names::submitter_job_name(job, attempt))
    };
    let mut world = JobWorld {
        cluster: cluster_view,
        submitter: observe::submitter_view(submitter.as_deref()),
        ray_job: RayJobView::Unknown,
        head_reachable: false,
        // Only a machine that remembers nothing reads the stored status.
        published: (phase == JobPhase::New)
            .then(|| status::stored_summary(job))
            .flatten(),
    };
    let ready = cluster_view == rayop_machines::rayjob::ClusterView::Ready;
    if let (true, true, Some(cluster), Some(id)) = (
        ready,
        observe::asks_dashboard(phase),
        cluster,
        build::names::submission_id(job, attempt),
    ) {
        let answer = match ctx.dashboards.client_for(&ctx.client, cluster).await {
            Ok(client) => client
                .info(&id)
                .await
                .map(|l| match l {
                    Lookup::Found(info) => Some(info),
                    Lookup::NotFound => None,
                })
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = &answer {
            debug!(%error, "the dashboard did not answer");
        }
        world.head_reachable = answer.is_ok();
        world.ray_job = observe::ray_job_view(&answer);
    }
    world
}

async fn run(ctx: &JobContext, job: &RayJob, target: &Target) -> Result<Action, ReconcileError> {
    let now = now_millis();
    let name = job.name_any();
    let mut memory = recall(ctx, job, target, None).await;
    let mut writes = Writes::default();
    let mut failed = false;
    if memory.carried.take_due_wake(now) {
        let attempt = memory.machine.job().attempt.number;
        let cluster = attempt_cluster(ctx, job, &target.namespace, attempt).await;
        let turn = job_turn(ctx, target, Some(job), cluster.as_ref(), now);
        let tick = Event {
            at: now,
            input: JobInput::Tick,
        };
        failed |= turn.act(&mut memory, &tick, &mut writes).await;
    }
    let attempt = memory.machine.job().attempt.number;
    let cluster = attempt_cluster(ctx, job, &target.namespace, attempt).await;
    let world = observe_world(
        ctx,
        job,
        &target.namespace,
        attempt,
        memory.machine.phase(),
        cluster.as_ref(),
    )
    .await;
    let spec = build::summarize(job, &JobSettings::default());
    let observed = Event {
        at: now,
        input: JobInput::Observed { spec, world },
    };
    let turn = job_turn(ctx, target, Some(job), cluster.as_ref(), now);
    failed |= turn.act(&mut memory, &observed, &mut writes).await;
    count(&ctx.writes, writes);
    // status: the last PublishStatus, with the current attempt's names
    // The observed cluster, unless the step began a new attempt.
    let observed_attempt = attempt;
    let attempt = memory.machine.job().attempt.number;
    let written = match memory.carried.status.as_ref() {
        Some(summary) => {
            let cluster = if attempt == observed_attempt {
                cluster
            } else {
                attempt_cluster(ctx, job, &target.namespace, attempt).await
            };
            let cluster_name = (attempt > 0).then(|| build::names::cluster_name(job, attempt));
            let job_id = (attempt > 0)
                .then(|| build::names::submission_id(job, attempt))
                .flatten();
            let dashboard_url = cluster
                .as_ref()
                .and_then(|c| ctx.dashboards.address(c).ok());
            let facts = JobFacts {
                job_id: job_id.as_deref(),
                cluster_name: cluster_name.as_deref(),
                dashboard_url: dashboard_url.as_deref(),
                cluster: cluster.as_ref(),
            };
            status::publish(&ctx.client, job, summary, &facts).await
        }
        None => Ok(false),
    };
    if matches!(written, Ok(true)) {
        ctx.writes
            .status
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let requeue = requeue_after(ctx, &memory, failed, now);
    debug!(rayjob = %name, phase = %memory.machine.phase(), ?requeue, "reconciled");
    ctx.memory.keep(&target.uid, memory);
    written.map_err(ReconcileError::Status)?;
    Ok(Action::requeue(requeue))
}

fn requeue_after(
    ctx: &JobContext,
    memory: &JobMemory,
    failed: bool,
    now: rayop_machines::Millis,
) -> Duration {
    let mut requeue = ctx.resync;
    if observe::asks_dashboard(memory.machine.phase())
        || matches!(
            memory.machine.phase(),
            JobPhase::Suspending | JobPhase::Retrying
        )
    {
        requeue = requeue.min(POLL);
    }
    if let Some(at) = memory.carried.wake {
        requeue = requeue.min(Duration::from_millis(at.since(now)).max(Duration::from_secs(1)));
    }
    if failed {
        requeue = requeue.min(RETRY_AFTER_FAILURE);
    }
    requeue
}

/// The turn of `job` at `now`.
pub fn job_turn<'a>(
    ctx: &'a JobContext,
    target: &'a Target,
    job: Option<&'a RayJob>,
    cluster: Option<&'a RayCluster>,
    now: rayop_machines::Millis,
) -> Turn<'a, JobInterpreter<'a>> {
    Turn {
        journal: &ctx.journal,
        metrics: &ctx.metrics,
        recorder: &ctx.recorder,
        target,
        interpreter: JobInterpreter {
            client: ctx.client.clone(),
            job,
            namespace: &target.namespace,
            uid: &target.uid,
            dashboards: &ctx.dashboards,
            cluster,
            recorder: &ctx.recorder,
            reference: &target.reference,
            journal: &ctx.journal,
            at: now,
        },
    }
}

/// This process's memory of the RayJob, or one rebuilt from the journal.
pub async fn recall(
    ctx: &JobContext,
    job: &RayJob,
    target: &Target,
    cluster: Option<&RayCluster>,
) -> JobMemory {
    if let Some(memory) = ctx.memory.take(&target.uid) {
        return memory;
    }
    let turn = job_turn(ctx, target, Some(job), cluster, now_millis());
    let (memory, writes) = turn.restore::<JobMachine>().await;
    count(&ctx.writes, writes);
    memory
}

/// What to do after a reconcile returned an error.
#[must_use]
pub fn error_policy(
    _obj: Arc<DynamicObject>,
    error: &ReconcileError,
    _ctx: Arc<JobContext>,
) -> Action {
    warn!(step = error.step(), %error, "RayJob reconcile failed; retrying");
    Action::requeue(RETRY_AFTER_FAILURE)
}
