//! One reconcile of one RayCluster: build → observe → decide → journal →
//! apply → status, in that order, each step in its own module.
//!
//! Invariants:
//! - A timer that has come due is delivered first, as a `Tick`; then the
//!   observation. Each event's decision is journaled before any of its
//!   commands runs, and every command is carried out by the one
//!   [`Interpreter`].
//! - A failed command goes back into the machine once, as `CommandFailed`,
//!   which reports it in status and as a Warning Event; the cluster is then
//!   retried after [`RETRY_AFTER_FAILURE`](super::steps::RETRY_AFTER_FAILURE).
//! - In steady state this makes no API call at all: nothing is applied,
//!   nothing journaled, and the status is written only when it differs.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{Resource, ResourceExt, api::DynamicObject, runtime::controller::Action};
use rayop_machines::{Event, Input, SpecProblem};
use tracing::{Instrument, debug, warn};

use super::{
    certificates,
    context::{Context, Memory},
    error::ReconcileError,
    failed_create, finalize,
    steps::{
        RETRY_AFTER_FAILURE, built, caches_synced, cluster_turn, count, now_millis, recall,
        requeue_after,
    },
    turn::{Target, warn_event},
};
use crate::{
    apply::Writes,
    build,
    crd::{RayCluster, names, tls::PkiNames},
    decide,
    desired::{DesiredObjects, ObjectSet},
    metrics::ReconcileResult,
    observe::{Live, observe},
    status::{self, LiveFacts, Published},
};

/// Decodes the lenient watch object into the typed RayCluster.
///
/// # Errors
/// When the stored object does not fit the current types.
pub fn decode(obj: &DynamicObject) -> Result<RayCluster, ReconcileError> {
    let value = serde_json::to_value(obj).map_err(|e| ReconcileError::Decode(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| ReconcileError::Decode(e.to_string()))
}

/// The reconcile entry point for the controller.
///
/// # Errors
/// Only errors the controller should retry with backoff (status writes);
/// everything else is reported to the user and requeued deliberately.
pub async fn reconcile(
    obj: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let mut outcome = ReconcileResult::Skipped;
    let result = admit(obj, &ctx, &mut outcome).await;
    if result.is_err() {
        outcome = ReconcileResult::Error;
    }
    ctx.metrics.reconciled(outcome, started.elapsed());
    result
}

/// Decodes the object and checks that it is ours to reconcile now.
async fn admit(
    obj: Arc<DynamicObject>,
    ctx: &Context,
    outcome: &mut ReconcileResult,
) -> Result<Action, ReconcileError> {
    let cluster = match decode(&obj) {
        Ok(cluster) => cluster,
        Err(error) => {
            // A malformed object is reported once per change and left alone
            // until the user edits it; it never blocks other clusters.
            warn!(name = %obj.name_any(), %error, "skipping a RayCluster that does not decode");
            let reference = ObjectReference {
                api_version: Some(RayCluster::api_version(&()).into_owned()),
                kind: Some(RayCluster::kind(&()).into_owned()),
                name: obj.metadata.name.clone(),
                namespace: obj.metadata.namespace.clone(),
                uid: obj.metadata.uid.clone(),
                ..Default::default()
            };
            if warn_event(&ctx.recorder, &reference, error.reason(), error.to_string()).await {
                ctx.writes
                    .events
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            return Ok(Action::await_change());
        }
    };
    let (Some(namespace), Some(uid)) = (cluster.namespace(), cluster.uid()) else {
        return Ok(Action::await_change());
    };
    let finalizing = cluster.meta().deletion_timestamp.is_some();
    if (finalizing && !finalize::holds(&cluster)) || !cluster.spec.managed_by_rayop() {
        return Ok(Action::await_change());
    }
    // Never decide on caches that have not finished their first list: an
    // empty pod cache would read as a lost head.
    if !caches_synced(&ctx.synced).await {
        debug!("caches not synced yet; trying again shortly");
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let target = Target {
        key: crate::journaling::StreamKind::RayCluster.key(&namespace, &cluster.name_any()),
        reference: cluster.object_ref(&()),
        namespace,
        uid,
    };
    // `instrument`, not `span.enter()`: an entered guard held across
    // `.await` leaks the span into whatever the worker thread polls next.
    let span = tracing::info_span!("reconcile", cluster = %target.key);
    let result = if finalizing {
        finalize::run(ctx, &cluster, &target).instrument(span).await
    } else {
        run(ctx, &cluster, &target).instrument(span).await
    };
    *outcome = match &result {
        Ok((_, true)) => ReconcileResult::Error,
        Ok((_, false)) => ReconcileResult::Ok,
        Err(_) => ReconcileResult::Error,
    };
    result.map(|(action, _)| action)
}

/// The steps, in the order they run. Returns the requeue and whether a
/// command failed.
async fn run(
    ctx: &Context,
    cluster: &RayCluster,
    target: &Target,
) -> Result<(Action, bool), ReconcileError> {
    let now = now_millis();
    let name = cluster.name_any();
    let held = finalize::holds(cluster);
    // build: pure, from the spec
    let (mut desired, mut build_problems) = built(cluster, ctx);
    // observe: the caches, as facts
    let view = ctx.caches.view(&target.namespace, &name, &target.uid);
    let tls = cluster.spec.tls_enabled();
    let cert_manager_missing = tls && !ctx.cert_manager.served(&ctx.client).await;
    if cert_manager_missing {
        build_problems.push(certificates::missing_cert_manager());
    } else if tls && let Some(desired) = desired.as_mut() {
        let ips = certificates::pod_ips(&view.pods());
        match build::pki_set(cluster, &ctx.build, &ips) {
            Ok(pki) => desired.pki = pki,
            Err(error) => build_problems.push(SpecProblem {
                field: "spec".into(),
                message: error.to_string(),
            }),
        }
    }
    let empty = DesiredObjects {
        head: ObjectSet::stamped(Vec::new()),
        groups: Vec::new(),
        gcs_claim: None,
        cleanup_job: None,
        pki: None,
    };
    let mut world = observe(
        desired.as_ref().unwrap_or(&empty),
        &names::head_pod_name(&name),
        &view,
    );
    if let Some(pki) = desired.as_ref().and_then(|d| d.pki.as_ref()) {
        let names = PkiNames::of(&name, &target.uid);
        world.pki = Some(
            certificates::observe_pki(&ctx.client, &target.namespace, &names, pki, &view).await,
        );
    }
    let look_again = if cluster.spec.suspended() {
        None
    } else {
        failed_create::attach(
            &ctx.client,
            &target.namespace,
            desired.as_ref(),
            &view,
            &mut world,
            now,
        )
        .await
    };
    let turn = cluster_turn(ctx, target, cluster, desired.as_ref(), &view, now);
    let mut memory = recall(ctx, &turn).await;
    let mut writes = Writes::default();
    // decide → journal → apply: a due timer first, then the observation
    let mut failed = false;
    if memory.carried.take_due_wake(now) {
        let tick = Event {
            at: now,
            input: Input::Tick,
        };
        failed |= turn.act(&mut memory, &tick, &mut writes).await;
    }
    let spec = decide::desired_spec(
        cluster,
        desired.as_ref(),
        &build_problems,
        ctx.head_stuck_after,
    );
    let mut spec = spec;
    spec.redis_cleanup = decide::redis_cleanup(cluster, ctx.redis_cleanup);
    world.cleanup_finalizer = held;
    let observed = decide::observed(now, spec, world);
    failed |= turn.act(&mut memory, &observed, &mut writes).await;
    count(&ctx.writes, writes);
    // status: the last PublishStatus, paced
    let held = publish_status(ctx, cluster, &mut memory, &view, &name).await;
    let requeue = requeue_after(
        ctx,
        &memory,
        held.as_ref().ok().copied().flatten(),
        failed,
        now,
    );
    let requeue = look_again.map_or(requeue, |again| {
        requeue.min(again.max(Duration::from_secs(1)))
    });
    // cert-manager may be installed at any time; its watch events do not
    // reach a cluster that has no Certificate yet.
    let requeue = if cert_manager_missing {
        requeue.min(certificates::REQUEUE_WITHOUT_CERT_MANAGER)
    } else {
        requeue
    };
    ctx.metrics
        .cluster_phase(&target.uid, memory.machine.phase().as_str());
    ctx.keep_memory(&target.uid, memory);
    held?;
    Ok((Action::requeue(requeue), failed))
}

/// The status step: keeps the live status at the last `PublishStatus`.
/// Returns how long a held change waits.
async fn publish_status(
    ctx: &Context,
    cluster: &RayCluster,
    memory: &mut Memory,
    view: &super::caches::ClusterView<'_>,
    name: &str,
) -> Result<Option<Duration>, ReconcileError> {
    let Some(summary) = memory.carried.status.as_ref() else {
        return Ok(None);
    };
    let head_pod = view.pod(&names::head_pod_name(name));
    let head_service = view.owned(
        crate::owned::Kind::Service,
        &cluster.spec.head_service_name(name),
    );
    let pods = view.pods();
    let live = LiveFacts {
        head_pod: head_pod.as_deref(),
        head_service: head_service.as_deref(),
        pods: pods.iter().map(AsRef::as_ref).collect(),
    };
    match status::publish(
        &ctx.client,
        cluster,
        summary,
        &live,
        memory.last_status_write,
    )
    .await
    .map_err(ReconcileError::Status)?
    {
        Published::Unchanged => Ok(None),
        Published::Held(wait) => {
            debug!(?wait, "status change held to coalesce writes");
            Ok(Some(wait))
        }
        Published::Written => {
            memory.last_status_write = Some(Instant::now());
            ctx.writes
                .status
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(None)
        }
    }
}

/// What to do after a reconcile returned an error: report and retry later.
#[must_use]
pub fn error_policy(
    _obj: Arc<DynamicObject>,
    error: &ReconcileError,
    _ctx: Arc<Context>,
) -> Action {
    warn!(step = error.step(), %error, "reconcile failed; retrying");
    Action::requeue(RETRY_AFTER_FAILURE)
}
