//! One reconcile of one RayCronJob: observe → decide → journal → apply →
//! status, in that order, through the same turn as every kind.
//!
//! Invariants:
//! - A due timer is delivered first, as a `Tick`; then the observation.
//! - The RayCronJob is looked at again at its machine's next timer (the
//!   next tick, or a retry), else at the resync.
//! - In steady state (between ticks) nothing is written.

use std::{sync::Arc, time::Duration};

use kube::{Resource, ResourceExt, api::DynamicObject, runtime::controller::Action};
use rayop_machines::{
    Event,
    raycronjob::{CronInput, CronMachine},
};
use tracing::{Instrument, debug, warn};

use super::{context::CronContext, context::CronMemory, interpret::CronInterpreter, status};
use crate::{
    build::raycronjob as build,
    controller::{
        error::ReconcileError,
        steps::{RETRY_AFTER_FAILURE, caches_synced, count, decode, now_millis, reference_of},
        turn::{Target, Turn, warn_event},
    },
    crd::raycronjob::RayCronJob,
    interpret::Writes,
    journaling::StreamKind,
};

/// The reconcile entry point.
///
/// # Errors
/// Only errors worth a retry with backoff (status writes).
pub async fn reconcile(
    obj: Arc<DynamicObject>,
    ctx: Arc<CronContext>,
) -> Result<Action, ReconcileError> {
    let cron: RayCronJob = match decode(&obj) {
        Ok(cron) => cron,
        Err(error) => {
            warn!(name = %obj.name_any(), %error, "skipping a RayCronJob that does not decode");
            let reference = reference_of::<RayCronJob>(&obj);
            warn_event(&ctx.recorder, &reference, error.reason(), error.to_string()).await;
            return Ok(Action::await_change());
        }
    };
    let Some(target) = Target::of(&cron, StreamKind::RayCronJob) else {
        return Ok(Action::await_change());
    };
    if cron.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if !caches_synced(&ctx.synced).await {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let span = tracing::info_span!("reconcile", raycronjob = %target.key);
    run(&ctx, &cron, &target).instrument(span).await
}

async fn run(
    ctx: &CronContext,
    cron: &RayCronJob,
    target: &Target,
) -> Result<Action, ReconcileError> {
    let now = now_millis();
    let mut memory = recall(ctx, cron, target).await;
    let mut writes = Writes::default();
    let mut failed = false;
    if memory.carried.take_due_wake(now) {
        let tick = Event {
            at: now,
            input: CronInput::Tick,
        };
        failed |= cron_turn(ctx, target, Some(cron), now)
            .act(&mut memory, &tick, &mut writes)
            .await;
    }
    let observed = Event {
        at: now,
        input: CronInput::Observed {
            spec: build::summarize(cron, &ctx.operator_zone),
            world: build::world(cron, &ctx.caches.children(&target.namespace, &target.uid)),
        },
    };
    failed |= cron_turn(ctx, target, Some(cron), now)
        .act(&mut memory, &observed, &mut writes)
        .await;
    count(&ctx.writes, writes);
    let written = match memory.carried.last_schedule {
        Some(at) => status::publish(&ctx.client, cron, at).await,
        None => Ok(false),
    };
    if matches!(written, Ok(true)) {
        ctx.writes
            .status
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let requeue = requeue_after(ctx, &memory, failed, now);
    debug!(phase = %memory.machine.phase(), ?requeue, "reconciled");
    ctx.memory.keep(&target.uid, memory);
    written.map_err(ReconcileError::Status)?;
    Ok(Action::requeue(requeue))
}

fn requeue_after(
    ctx: &CronContext,
    memory: &CronMemory,
    failed: bool,
    now: rayop_machines::Millis,
) -> Duration {
    let mut requeue = ctx.resync;
    if let Some(at) = memory.carried.wake {
        requeue = requeue.min(Duration::from_millis(at.since(now)).max(Duration::from_secs(1)));
    }
    if failed {
        requeue = requeue.min(RETRY_AFTER_FAILURE);
    }
    requeue
}

/// The turn of `cron` at `now`.
pub fn cron_turn<'a>(
    ctx: &'a CronContext,
    target: &'a Target,
    cron: Option<&'a RayCronJob>,
    now: rayop_machines::Millis,
) -> Turn<'a, CronInterpreter<'a>> {
    Turn {
        journal: &ctx.journal,
        metrics: &ctx.metrics,
        recorder: &ctx.recorder,
        target,
        interpreter: CronInterpreter {
            client: ctx.client.clone(),
            cron,
            namespace: &target.namespace,
            uid: &target.uid,
            recorder: &ctx.recorder,
            reference: &target.reference,
            journal: &ctx.journal,
            at: now,
        },
    }
}

/// This process's memory of the RayCronJob, or one rebuilt from the journal.
pub async fn recall(ctx: &CronContext, cron: &RayCronJob, target: &Target) -> CronMemory {
    if let Some(memory) = ctx.memory.take(&target.uid) {
        return memory;
    }
    let turn = cron_turn(ctx, target, Some(cron), now_millis());
    let (memory, writes) = turn.restore::<CronMachine>().await;
    count(&ctx.writes, writes);
    memory
}

/// What to do after a reconcile returned an error.
#[must_use]
pub fn error_policy(
    _obj: Arc<DynamicObject>,
    error: &ReconcileError,
    _ctx: Arc<CronContext>,
) -> Action {
    warn!(step = error.step(), %error, "RayCronJob reconcile failed; retrying");
    Action::requeue(RETRY_AFTER_FAILURE)
}
