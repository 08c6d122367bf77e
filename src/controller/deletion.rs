//! Deleted RayClusters: the machine takes its terminal step, and its
//! `Forget` marks the journal stream deleted (kept for the retention window).
//!
//! Objects are removed by Kubernetes garbage collection through owner
//! references, so deletion needs no finalizer and costs no API write.
//!
//! Invariant: a deletion seen while the operator was down (the cluster is
//! simply absent after the first list) is recorded the same way at start-up.

use std::sync::Arc;

use kube::{ResourceExt, api::DynamicObject};
use rayop_machines::ClusterMachine;
use tracing::info;

use super::{
    context::Context,
    steps::{count, now_millis},
    turn::{Target, Turn},
};
use crate::{
    apply::{Interpreter, NothingLive},
    journaling::StreamKind,
};

/// Records the deletion of the cluster `obj`.
pub async fn record_deletion(ctx: &Arc<Context>, obj: &DynamicObject) {
    let Some(uid) = obj.uid() else {
        return;
    };
    let key = StreamKind::RayCluster.key(&obj.namespace().unwrap_or_default(), &obj.name_any());
    forget(ctx, &uid, &key).await;
}

/// Steps the machine of `uid` with `Deleted` and carries out what it says.
pub async fn forget(ctx: &Arc<Context>, uid: &str, key: &str) {
    let now = now_millis();
    let target = Target::deleted(uid, key);
    let turn = Turn {
        journal: &ctx.journal,
        metrics: &ctx.metrics,
        recorder: &ctx.recorder,
        target: &target,
        interpreter: Interpreter {
            client: ctx.client.clone(),
            namespace: &target.namespace,
            owner_uid: uid,
            at: now,
            desired: None,
            spec: None,
            live: &NothingLive,
            recorder: &ctx.recorder,
            reference: &target.reference,
            journal: &ctx.journal,
            cluster: None,
        },
    };
    let writes = turn
        .record_deletion::<ClusterMachine>(ctx.take_memory(uid), now)
        .await;
    count(&ctx.writes, writes);
    ctx.metrics.forget_cluster(uid);
    info!(
        cluster = key,
        "RayCluster deleted; journal stream kept for its retention window"
    );
}

/// At start-up: streams of clusters that vanished while the operator was
/// down, given the UIDs that exist now.
pub async fn forget_vanished(ctx: &Arc<Context>, live_uids: &std::collections::HashSet<String>) {
    for (uid, key) in ctx
        .journal
        .vanished(StreamKind::RayCluster, live_uids)
        .await
    {
        forget(ctx, &uid, &key).await;
    }
}
