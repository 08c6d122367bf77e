//! One reconcile of one RayCluster: observe → decide → journal → apply → status.
//!
//! Invariants:
//! - The decision is journaled before any of its commands runs.
//! - A failed command never fails the reconcile loop blindly: it goes back
//!   into the machine as `CommandFailed`, which reports it in status and as a
//!   Warning Event, and the cluster is retried after a delay.
//! - In steady state this makes no API call at all: nothing is applied,
//!   nothing journaled, and the status is written only when it differs.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    api::{DynamicObject, Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event as KubeEvent, EventType},
    },
};
use rayop_machines::{ClusterMachine, Event, Input, Millis, SpecProblem};
use serde_json::json;
use tracing::{Instrument, debug, info, warn};

use super::{context::Context, error::ReconcileError};
use crate::{
    apply::{Applier, FIELD_MANAGER, Writes},
    build,
    crd::{RayCluster, names},
    decide,
    desired::{DesiredObjects, ObjectSet},
    metrics::ReconcileResult,
    observe::observe,
    record::{self, CommandResult, Record},
    status::{
        self, LiveFacts,
        pacing::{self, Pace},
    },
};

/// How long a reconcile waits for the caches' first list before requeueing.
pub const CACHE_SYNC_WAIT: Duration = Duration::from_secs(30);

/// How soon a cluster whose command failed is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Milliseconds since the epoch, now.
#[must_use]
pub fn now_millis() -> Millis {
    Millis(u64::try_from(Timestamp::now().as_millisecond()).unwrap_or(0))
}

/// Decodes the lenient watch object into the typed RayCluster.
///
/// # Errors
/// When the stored object does not fit the current types.
pub fn decode(obj: &DynamicObject) -> Result<RayCluster, ReconcileError> {
    let value = serde_json::to_value(obj).map_err(|e| ReconcileError::Decode(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| ReconcileError::Decode(e.to_string()))
}

fn empty_objects() -> DesiredObjects {
    DesiredObjects {
        head: ObjectSet::stamped(Vec::new()),
        groups: Vec::new(),
    }
}

async fn report(
    ctx: &Context,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    reason: &str,
    note: String,
) {
    let event = KubeEvent {
        type_: EventType::Warning,
        reason: reason.to_owned(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    match ctx.recorder.publish(&event, reference).await {
        Ok(()) => {
            ctx.writes
                .events
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Err(error) => warn!(%error, reason, "could not record Event"),
    }
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
    let result = reconcile_cluster(obj, &ctx, &mut outcome).await;
    if result.is_err() {
        outcome = ReconcileResult::Error;
    }
    ctx.metrics.reconciled(outcome, started.elapsed());
    result
}

/// [`reconcile`] without the metrics; `outcome` stays `Skipped` unless the
/// pipeline runs.
async fn reconcile_cluster(
    obj: Arc<DynamicObject>,
    ctx: &Arc<Context>,
    outcome: &mut ReconcileResult,
) -> Result<Action, ReconcileError> {
    let ctx = ctx.as_ref();
    let cluster = match decode(&obj) {
        Ok(cluster) => cluster,
        Err(error) => {
            // A malformed object is reported once per change and left alone
            // until the user edits it; it never blocks other clusters.
            warn!(name = %obj.name_any(), %error, "skipping a RayCluster that does not decode");
            let reference = k8s_openapi::api::core::v1::ObjectReference {
                api_version: Some("ray.io/v1".into()),
                kind: Some("RayCluster".into()),
                name: obj.metadata.name.clone(),
                namespace: obj.metadata.namespace.clone(),
                uid: obj.metadata.uid.clone(),
                ..Default::default()
            };
            report(ctx, &reference, error.reason(), error.to_string()).await;
            return Ok(Action::await_change());
        }
    };
    let (Some(namespace), Some(uid)) = (cluster.namespace(), cluster.uid()) else {
        return Ok(Action::await_change());
    };
    let name = cluster.name_any();
    if cluster.meta().deletion_timestamp.is_some() || !cluster.spec.managed_by_rayop() {
        return Ok(Action::await_change());
    }
    // Never decide on caches that have not finished their first list: an
    // empty pod cache would read as a lost head.
    let mut synced = ctx.synced.clone();
    if tokio::time::timeout(CACHE_SYNC_WAIT, synced.wait_for(|s| *s))
        .await
        .map_or(true, |r| r.is_err())
    {
        debug!("caches not synced yet; trying again shortly");
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    // `instrument`, not `span.enter()`: an entered guard held across
    // `.await` leaks the span into whatever the worker thread polls next, so
    // log lines nested every cluster's span (37 KB lines at N = 1000).
    let span = tracing::info_span!("reconcile", cluster = %format!("{namespace}/{name}"));
    run_pipeline(ctx, &cluster, &namespace, &name, &uid, outcome)
        .instrument(span)
        .await
}

async fn run_pipeline(
    ctx: &Context,
    cluster: &RayCluster,
    namespace: &str,
    name: &str,
    uid: &str,
    outcome: &mut ReconcileResult,
) -> Result<Action, ReconcileError> {
    let now = now_millis();
    let reference = cluster.object_ref(&());
    let key = format!("{namespace}/{name}");

    // build (pure) and observe (caches)
    let (desired, build_problems) = match build::desired_objects(cluster, &ctx.build) {
        Ok(desired) => (Some(desired), Vec::new()),
        Err(error) => (
            None,
            vec![SpecProblem {
                field: "spec".into(),
                message: error.to_string(),
            }],
        ),
    };
    let view = ctx.caches.view(namespace, name, uid);
    let empty = empty_objects();
    let head_pod = names::head_pod_name(name);
    let world = observe(desired.as_ref().unwrap_or(&empty), &head_pod, &view);

    // decide
    let mut machine = match ctx.take_machine(uid) {
        Some(machine) => machine,
        None => match ctx.journal.restore(uid).await {
            Ok(machine) => {
                debug!(phase = %machine.phase(), "machine restored from the journal");
                machine
            }
            Err(error) => {
                warn!(%error, "journal unreadable for this cluster; starting from the live state");
                report(ctx, &reference, "JournalUnavailable", error.to_string()).await;
                ClusterMachine::new()
            }
        },
    };
    let spec = decide::desired_spec(cluster, desired.as_ref(), &build_problems);
    let event = decide::observed(now, spec, world);
    let decision = decide::decide(&mut machine, &event);
    let step = decision.step;
    if step.transitioned() {
        info!(from = %step.from, to = %step.to, "phase changed");
        ctx.metrics.transition(step.from.as_str(), step.to.as_str());
    }

    // journal, before any command runs
    if decision.worth_journaling {
        let records = record::decision_records(&event, step.from, step.to, &step.commands);
        journal(ctx, &reference, uid, &key, now, records, &machine).await;
    }

    // apply
    let applier = Applier {
        client: ctx.client.clone(),
        namespace,
        owner_uid: uid,
        desired: desired.as_ref(),
        live: &view,
        recorder: &ctx.recorder,
        reference: &reference,
    };
    let mut writes = Writes::default();
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for command in &step.commands {
        let outcome = applier.perform(command, &mut writes).await;
        results.push(CommandResult {
            command: command.kind(),
            error: outcome.as_ref().err().map(ToString::to_string),
        });
        if let Err(error) = outcome {
            warn!(command = %command.kind(), %error, "command failed");
            failures.push(Event {
                at: now,
                input: Input::CommandFailed {
                    command: command.kind(),
                    reason: error.reason(command).to_owned(),
                    message: error.to_string(),
                },
            });
        }
    }
    if results.iter().any(|r| r.command.writes_at_once()) {
        journal(
            ctx,
            &reference,
            uid,
            &key,
            now,
            vec![Record::Results(results)],
            &machine,
        )
        .await;
    }
    let failed = !failures.is_empty();
    *outcome = if failed {
        ReconcileResult::Error
    } else {
        ReconcileResult::Ok
    };
    for failure in failures {
        let decision = decide::decide(&mut machine, &failure);
        if decision.step.transitioned() {
            let step = &decision.step;
            ctx.metrics.transition(step.from.as_str(), step.to.as_str());
        }
        if decision.worth_journaling {
            let step = &decision.step;
            let records = record::decision_records(&failure, step.from, step.to, &step.commands);
            journal(ctx, &reference, uid, &key, now, records, &machine).await;
        }
        for command in &decision.step.commands {
            // Only Announce and PublishStatus follow a failure; neither can fail the loop.
            let _ = applier.perform(command, &mut writes).await;
        }
    }
    count(ctx, writes);

    // status
    let status_result = publish_status(ctx, cluster, uid, &machine, &view, name).await;
    let wake = machine.next_wake();
    ctx.metrics.cluster_phase(uid, machine.phase().as_str());
    ctx.put_machine(uid, machine);
    let held = status_result?;

    let mut requeue = ctx.resync;
    if let Some(after) = held {
        requeue = requeue.min(after);
    }
    if let Some(at) = wake {
        requeue = requeue.min(Duration::from_millis(at.since(now)).max(Duration::from_secs(1)));
    }
    if failed {
        requeue = requeue.min(RETRY_AFTER_FAILURE);
    }
    Ok(Action::requeue(requeue))
}

fn count(ctx: &Context, writes: Writes) {
    use std::sync::atomic::Ordering::Relaxed;
    ctx.writes
        .applies
        .fetch_add(u64::from(writes.applies), Relaxed);
    ctx.writes
        .deletes
        .fetch_add(u64::from(writes.deletes), Relaxed);
    ctx.writes
        .events
        .fetch_add(u64::from(writes.events), Relaxed);
}

async fn journal(
    ctx: &Context,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    uid: &str,
    key: &str,
    at: Millis,
    records: Vec<Record>,
    machine: &ClusterMachine,
) {
    let bytes = serde_json::to_vec(&records).map_or(0, |b| b.len() as u64);
    let started = Instant::now();
    let appended = ctx.journal.append(uid, key, at, records, machine).await;
    if appended.is_ok() && ctx.journal.journal().is_some() {
        ctx.metrics.journal_append(started.elapsed(), bytes);
    }
    if let Err(error) = appended {
        warn!(%error, "journal append failed; reconciling continues without it");
        report(
            ctx,
            reference,
            "JournalUnavailable",
            format!("journal append failed: {error}"),
        )
        .await;
    }
}

async fn publish_status(
    ctx: &Context,
    cluster: &RayCluster,
    uid: &str,
    machine: &ClusterMachine,
    view: &super::caches::ClusterView<'_>,
    name: &str,
) -> Result<Option<Duration>, ReconcileError> {
    let Some(summary) = machine.cluster().last_status.as_ref() else {
        return Ok(None);
    };
    let head_pod = view.pod(&names::head_pod_name(name));
    let head_service = view.service(&names::head_service_name(name));
    let live = LiveFacts {
        head_pod: head_pod.as_deref(),
        head_service: head_service.as_deref(),
    };
    let now = Timestamp::now();
    let mut desired = status::desired_status(cluster, summary, &live, now);
    if !status::differs(cluster.status.as_ref(), &desired) {
        return Ok(None);
    }
    let last = ctx.last_status_write(uid);
    if let Pace::After(wait) = pacing::pace(
        cluster.status.as_ref(),
        &desired,
        last,
        std::time::Instant::now(),
    ) {
        debug!(?wait, "status change held to coalesce writes");
        return Ok(Some(wait));
    }
    desired.last_update_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
    let api: Api<RayCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let patch = json!({"apiVersion": "ray.io/v1", "kind": "RayCluster", "status": desired});
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(ReconcileError::Status)?;
    ctx.writes
        .status
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ctx.status_written(uid);
    Ok(None)
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
