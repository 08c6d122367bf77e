//! A deleted RayCluster held by the Redis cleanup finalizer
//! (`ray.io/gcs-ft-redis-cleanup-finalizer`): observe what the cleanup waits
//! for, as one `Finalizing` event, and let the machine decide.
//!
//! Role: the deletion twin of [`reconcile`](super::reconcile)'s `run`, with
//! the same turn: a due timer first (the deadline, as a `Tick`), then the
//! observation, each journaled before its commands run. The machine stops
//! the workloads, creates the cleanup Job once no pod is left, and removes
//! the finalizer when the Job has finished (Complete or Failed) or when
//! `ray.io/gcs-ft-deletion-timeout` (default 300 s) has passed since the
//! deletion timestamp; see `rayop_machines` for the rules.
//!
//! Invariants: the time of every decision is the event's; the deadline is
//! the machine's timer, so a restarted operator keeps it; the finalizer is
//! never left on a cluster whose cleanup does not apply any more (the
//! backend became rocksdb, or the operator's cleanup is off).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::{ResourceExt, runtime::controller::Action};
use rayop_machines::{Event, Finalizing, Input, JobState, Millis};

use super::{
    context::Context,
    error::ReconcileError,
    steps::{built, cluster_turn, count, now_millis, recall, requeue_after},
    turn::Target,
};
use crate::{
    apply::Writes,
    build::{ClusterContext, redis_cleanup},
    crd::{RayCluster, gcs, names},
    decide,
    owned::Kind,
};

/// How often a held cluster is looked at again while it waits for pods to
/// go or the Job to finish, besides the watch events that wake it.
pub const LOOK_AGAIN: Duration = Duration::from_secs(10);

/// Whether `cluster` carries the Redis cleanup finalizer.
#[must_use]
pub fn holds(cluster: &RayCluster) -> bool {
    cluster
        .finalizers()
        .iter()
        .any(|f| f == gcs::REDIS_CLEANUP_FINALIZER)
}

/// One turn of a held, deleted cluster. Returns the requeue and whether a
/// command failed.
///
/// # Errors
/// None yet; the signature matches the reconcile's.
pub async fn run(
    ctx: &Context,
    cluster: &RayCluster,
    target: &Target,
) -> Result<(Action, bool), ReconcileError> {
    let now = now_millis();
    let name = cluster.name_any();
    let (mut desired, _) = built(cluster, ctx);
    let job_name = redis_cleanup::job_name(&name);
    if let Some(desired) = desired.as_mut()
        && let Ok(build) = ClusterContext::new(cluster, &ctx.build)
    {
        desired.cleanup_job = redis_cleanup::cleanup_job(&build).ok();
    }
    let view = ctx.caches.view(&target.namespace, &name, &target.uid);
    let head_statefulset = crate::desired::ObjectKey {
        kind: Kind::StatefulSet,
        name: names::head_statefulset_name(&name),
    };
    let workloads = crate::observe::Live::workload_groups(&view).len()
        + usize::from(crate::observe::Live::object(&view, &head_statefulset).is_some());
    let pods = crate::observe::Live::pods(&view)
        .iter()
        .filter(|pod| {
            pod.labels().get(names::LABEL_NODE_TYPE).map(String::as_str)
                != Some(redis_cleanup::NODE_TYPE_REDIS_CLEANUP)
        })
        .count();
    let job = view
        .owned::<Job>(Kind::Job, &job_name)
        .map(|job| job_state(&job));
    let finalizing = Finalizing {
        deleted_at: deletion_millis(cluster),
        timeout_ms: gcs::deletion_timeout_seconds(cluster.metadata.annotations.as_ref())
            .saturating_mul(1000),
        cleanup: decide::redis_cleanup(cluster, ctx.redis_cleanup),
        workloads: u32::try_from(workloads).unwrap_or(u32::MAX),
        pods: u32::try_from(pods).unwrap_or(u32::MAX),
        job,
    };
    let turn = cluster_turn(ctx, target, cluster, desired.as_ref(), &view, now);
    let mut memory = recall(ctx, &turn).await;
    let mut writes = Writes::default();
    let mut failed = false;
    if memory.carried.take_due_wake(now) {
        let tick = Event {
            at: now,
            input: Input::Tick,
        };
        failed |= turn.act(&mut memory, &tick, &mut writes).await;
    }
    let event = Event {
        at: now,
        input: Input::Finalizing(finalizing),
    };
    failed |= turn.act(&mut memory, &event, &mut writes).await;
    count(&ctx.writes, writes);
    let requeue = requeue_after(ctx, &memory, None, failed, now).min(LOOK_AGAIN);
    ctx.keep_memory(&target.uid, memory);
    Ok((Action::requeue(requeue), failed))
}

/// The cluster's `deletionTimestamp` in milliseconds (0 when absent, which
/// a held cluster being finalized never is).
fn deletion_millis(cluster: &RayCluster) -> Millis {
    let at = cluster
        .metadata
        .deletion_timestamp
        .as_ref()
        .map_or(0, |t| t.0.as_millisecond());
    Millis(u64::try_from(at).unwrap_or(0))
}

/// The Job's state: finished when it has a true `Complete`, `Failed` or
/// `FailureTarget` condition.
#[must_use]
pub fn job_state(job: &Job) -> JobState {
    let is_true = |kind: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
    };
    if is_true("Complete") {
        JobState::Finished { failed: false }
    } else if is_true("Failed") || is_true("FailureTarget") {
        JobState::Finished { failed: true }
    } else {
        JobState::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    fn with(kind: &str, status: &str) -> Job {
        Job {
            status: Some(JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: kind.into(),
                    status: status.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_job_is_finished_by_its_true_conditions() {
        assert_eq!(job_state(&Job::default()), JobState::Running);
        assert_eq!(
            job_state(&with("Complete", "True")),
            JobState::Finished { failed: false }
        );
        assert_eq!(
            job_state(&with("FailureTarget", "True")),
            JobState::Finished { failed: true }
        );
        assert_eq!(job_state(&with("Failed", "False")), JobState::Running);
    }
}
