//! Deleted RayJobs: the machine takes its terminal step (stopping a job it
//! submitted and that may still run), and its `Forget` marks the journal
//! stream deleted. Its cluster and submitter go by garbage collection.
//!
//! Invariant: a RayJob deleted while the operator was down is recorded the
//! same way at start-up; only RayJob streams are looked at.

use std::{collections::HashSet, sync::Arc};

use kube::{ResourceExt, api::DynamicObject};
use rayop_machines::rayjob::JobMachine;
use tracing::info;

use super::{context::JobContext, reconcile::job_turn};
use crate::{
    controller::{
        steps::{count, now_millis},
        turn::Target,
    },
    journaling::StreamKind,
};

/// Records the deletion of the RayJob `obj`.
pub async fn record_deletion(ctx: &Arc<JobContext>, obj: &DynamicObject) {
    let Some(uid) = obj.uid() else {
        return;
    };
    let key = StreamKind::RayJob.key(&obj.namespace().unwrap_or_default(), &obj.name_any());
    forget(ctx, &uid, &key).await;
}

async fn forget(ctx: &Arc<JobContext>, uid: &str, key: &str) {
    let now = now_millis();
    let target = Target::deleted(uid, key);
    let turn = job_turn(ctx, &target, None, None, now);
    let writes = turn
        .record_deletion::<JobMachine>(ctx.memory.take(uid), now)
        .await;
    count(&ctx.writes, writes);
    info!(
        rayjob = key,
        "RayJob deleted; journal stream kept for its retention window"
    );
}

/// At start-up: streams of RayJobs that vanished while the operator was
/// down, given the UIDs that exist now.
pub async fn forget_vanished(ctx: &Arc<JobContext>, live_uids: &HashSet<String>) {
    for (uid, key) in ctx.journal.vanished(StreamKind::RayJob, live_uids).await {
        forget(ctx, &uid, &key).await;
    }
}
