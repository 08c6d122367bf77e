//! Deleted RayCronJobs: the machine takes its terminal step, and its
//! `Forget` marks the journal stream deleted. Its RayJobs go by garbage
//! collection (they are owned).
//!
//! Invariant: a RayCronJob deleted while the operator was down is recorded
//! the same way at start-up; only RayCronJob streams are looked at.

use std::{collections::HashSet, sync::Arc};

use kube::{ResourceExt, api::DynamicObject};
use rayop_machines::raycronjob::CronMachine;
use tracing::info;

use super::{context::CronContext, reconcile::cron_turn};
use crate::{
    controller::{
        steps::{count, now_millis},
        turn::Target,
    },
    journaling::StreamKind,
};

/// Records the deletion of the RayCronJob `obj`.
pub async fn record_deletion(ctx: &Arc<CronContext>, obj: &DynamicObject) {
    let Some(uid) = obj.uid() else {
        return;
    };
    let key = StreamKind::RayCronJob.key(&obj.namespace().unwrap_or_default(), &obj.name_any());
    forget(ctx, &uid, &key).await;
}

async fn forget(ctx: &Arc<CronContext>, uid: &str, key: &str) {
    let now = now_millis();
    let target = Target::deleted(uid, key);
    let turn = cron_turn(ctx, &target, None, now);
    let writes = turn
        .record_deletion::<CronMachine>(ctx.memory.take(uid), now)
        .await;
    count(&ctx.writes, writes);
    info!(
        raycronjob = key,
        "RayCronJob deleted; journal stream kept for its retention window"
    );
}

/// At start-up: streams of RayCronJobs that vanished while the operator was
/// down, given the UIDs that exist now.
pub async fn forget_vanished(ctx: &Arc<CronContext>, live_uids: &HashSet<String>) {
    for (uid, key) in ctx
        .journal
        .vanished(StreamKind::RayCronJob, live_uids)
        .await
    {
        forget(ctx, &uid, &key).await;
    }
}
