//! Deleted RayClusters: the machine takes its terminal step, the journal
//! records it and marks the stream deleted (kept for the retention window).
//!
//! Objects are removed by Kubernetes garbage collection through owner
//! references, so deletion needs no finalizer and costs no API write.
//!
//! Invariant: a deletion seen while the operator was down (the cluster is
//! simply absent after the first list) is recorded the same way at start-up.

use std::sync::Arc;

use kube::{ResourceExt, api::DynamicObject};
use rayop_machines::{Event, Input};
use tracing::{info, warn};

use super::{context::Context, reconcile::now_millis};
use crate::record;

/// Records the deletion of the cluster `obj`.
pub async fn record_deletion(ctx: &Arc<Context>, obj: &DynamicObject) {
    let Some(uid) = obj.uid() else {
        return;
    };
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    forget(ctx, &uid, &key).await;
}

/// Steps the machine of `uid` with `Deleted`, journals it and marks the stream deleted.
pub async fn forget(ctx: &Arc<Context>, uid: &str, key: &str) {
    let now = now_millis();
    let mut machine = match ctx.take_machine(uid) {
        Some(machine) => machine,
        None => ctx.journal.restore(uid).await.unwrap_or_default(),
    };
    let event = Event {
        at: now,
        input: Input::Deleted,
    };
    let step = machine.step(&event);
    if step.transitioned() || !step.commands.is_empty() {
        let records = record::decision_records(&event, step.from, step.to, &step.commands);
        if let Err(error) = ctx.journal.append(uid, key, now, records, &machine).await {
            warn!(%error, cluster = key, "could not journal a deletion");
        }
    }
    if let Err(error) = ctx.journal.mark_deleted(uid, now).await {
        warn!(%error, cluster = key, "could not mark a journal stream deleted");
    }
    info!(
        cluster = key,
        "RayCluster deleted; journal stream kept for its retention window"
    );
}

/// At start-up: streams of clusters that vanished while the operator was
/// down, given the UIDs that exist now.
pub async fn forget_vanished(ctx: &Arc<Context>, live_uids: &std::collections::HashSet<String>) {
    let Some(journal) = ctx.journal.journal() else {
        return;
    };
    let streams = tokio::task::spawn_blocking(move || journal.streams()).await;
    let Ok(Ok(streams)) = streams else {
        warn!("could not list journal streams at start-up");
        return;
    };
    for stream in streams {
        if stream.deleted_at.is_none() && !live_uids.contains(&stream.id) {
            forget(ctx, &stream.id, &stream.index_key).await;
        }
    }
}
