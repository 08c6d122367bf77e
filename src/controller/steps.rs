//! Steps every turn of a RayCluster takes, whether it reconciles
//! ([`reconcile`](super::reconcile)) or finalizes a deletion
//! ([`finalize`](super::finalize)): the clock, the desired objects, the
//! turn over one cluster's interpreter, the machine recalled from memory or
//! the journal, the next requeue and the write counters.
//!
//! Invariant: nothing here decides; these only read, build and count, so
//! both turns stay one decision path through the machine.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use rayop_machines::{ClusterMachine, Millis, SpecProblem};

use super::{
    context::{Context, Memory, WriteCounters},
    turn::{Target, Turn},
};
use crate::{
    apply::{Interpreter, LiveForApply, Writes, finalizer::ClusterMeta},
    build,
    crd::RayCluster,
    desired::DesiredObjects,
};

/// How soon a cluster whose command failed is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Milliseconds since the epoch, now.
#[must_use]
pub fn now_millis() -> Millis {
    Millis(u64::try_from(Timestamp::now().as_millisecond()).unwrap_or(0))
}

/// The desired objects, or the problems that kept them from being built.
#[must_use]
pub fn built(cluster: &RayCluster, ctx: &Context) -> (Option<DesiredObjects>, Vec<SpecProblem>) {
    match build::desired_objects(cluster, &ctx.build) {
        Ok(desired) => (Some(desired), Vec::new()),
        Err(error) => (
            None,
            vec![SpecProblem {
                field: "spec".into(),
                message: error.to_string(),
            }],
        ),
    }
}

/// The turn of `cluster` at `now`: its interpreter applies `desired`
/// against what `live` holds.
pub fn cluster_turn<'a>(
    ctx: &'a Context,
    target: &'a Target,
    cluster: &'a RayCluster,
    desired: Option<&'a DesiredObjects>,
    live: &'a dyn LiveForApply,
    now: Millis,
) -> Turn<'a, Interpreter<'a>> {
    Turn {
        journal: &ctx.journal,
        metrics: &ctx.metrics,
        recorder: &ctx.recorder,
        target,
        interpreter: Interpreter {
            client: ctx.client.clone(),
            namespace: &target.namespace,
            owner_uid: &target.uid,
            at: now,
            desired,
            spec: Some(&cluster.spec),
            live,
            recorder: &ctx.recorder,
            reference: &target.reference,
            journal: &ctx.journal,
            cluster: Some(ClusterMeta::of(cluster)),
        },
    }
}

/// This process's memory of the cluster, or one rebuilt from the journal.
pub async fn recall(ctx: &Context, turn: &Turn<'_, Interpreter<'_>>) -> Memory {
    if let Some(memory) = ctx.take_memory(&turn.target.uid) {
        return memory;
    }
    let (memory, writes) = turn.restore::<ClusterMachine>().await;
    count(&ctx.writes, writes);
    memory
}

/// The next reconcile: at the resync interval, or sooner for a held status,
/// the machine's wake-up, or a failed command's retry.
#[must_use]
pub fn requeue_after(
    ctx: &Context,
    memory: &Memory,
    held: Option<Duration>,
    failed: bool,
    now: Millis,
) -> Duration {
    let mut requeue = ctx.resync;
    if let Some(after) = held {
        requeue = requeue.min(after);
    }
    if let Some(at) = memory.carried.wake {
        requeue = requeue.min(Duration::from_millis(at.since(now)).max(Duration::from_secs(1)));
    }
    if failed {
        requeue = requeue.min(RETRY_AFTER_FAILURE);
    }
    requeue
}

/// Adds a turn's writes to the operator's counters.
pub fn count(counters: &WriteCounters, writes: Writes) {
    use std::sync::atomic::Ordering::Relaxed;
    counters
        .applies
        .fetch_add(u64::from(writes.applies), Relaxed);
    counters
        .deletes
        .fetch_add(u64::from(writes.deletes), Relaxed);
    counters.events.fetch_add(u64::from(writes.events), Relaxed);
}

/// Decodes the lenient watch object into the typed resource `K`.
///
/// # Errors
/// When the stored object does not fit the current types.
pub fn decode<K: serde::de::DeserializeOwned>(
    obj: &kube::api::DynamicObject,
) -> Result<K, super::error::ReconcileError> {
    use super::error::ReconcileError;
    let value = serde_json::to_value(obj).map_err(|e| ReconcileError::Decode(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| ReconcileError::Decode(e.to_string()))
}

/// A reference to `obj` as a `K`, for the Event that says it does not decode.
#[must_use]
pub fn reference_of<K: kube::Resource<DynamicType = ()>>(
    obj: &kube::api::DynamicObject,
) -> k8s_openapi::api::core::v1::ObjectReference {
    k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: obj.metadata.name.clone(),
        namespace: obj.metadata.namespace.clone(),
        uid: obj.metadata.uid.clone(),
        ..Default::default()
    }
}

/// How long a reconcile waits for the caches' first list before requeueing.
pub const CACHE_SYNC_WAIT: Duration = Duration::from_secs(30);

/// Waits (at most [`CACHE_SYNC_WAIT`]) until the scope's
/// caches have their first full list; whether they have.
pub async fn caches_synced(synced: &tokio::sync::watch::Receiver<bool>) -> bool {
    let mut synced = synced.clone();
    tokio::time::timeout(CACHE_SYNC_WAIT, synced.wait_for(|s| *s))
        .await
        .is_ok_and(|r| r.is_ok())
}
