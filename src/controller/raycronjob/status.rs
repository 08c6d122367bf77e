//! The RayCronJob status step: `status.lastScheduleTime`, the tick of the
//! last RayJob created, written by server-side apply only when it differs.
//!
//! Invariant: in steady state nothing is written.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};
use rayop_machines::Millis;
use serde_json::json;

use crate::{crd::raycronjob::RayCronJob, owned::api::FIELD_MANAGER};

/// `at` as a Kubernetes time, whole seconds (ticks are).
#[must_use]
pub fn time(at: Millis) -> Option<Time> {
    let seconds = i64::try_from(at.0 / 1000).ok()?;
    Timestamp::from_second(seconds).ok().map(Time)
}

/// Writes `lastScheduleTime` if it differs from the live one. Returns
/// whether it wrote.
///
/// # Errors
/// When the API server refuses the status patch.
pub async fn publish(client: &Client, cron: &RayCronJob, at: Millis) -> Result<bool, kube::Error> {
    let desired = time(at);
    let live = cron
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.clone());
    if desired.is_none() || live == desired {
        return Ok(false);
    }
    let patch = json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCronJob",
        "status": {"lastScheduleTime": desired},
    });
    let namespace = cron.namespace().unwrap_or_default();
    Api::<RayCronJob>::namespaced(client.clone(), &namespace)
        .patch_status(
            &cron.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_tick_is_a_whole_second_time_and_the_world_reads_it_back() {
        let mut cron: RayCronJob = serde_json::from_value(json!({
            "apiVersion": "ray.io/v1", "kind": "RayCronJob",
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"entrypoint": "python x.py"}}
        }))
        .unwrap();
        let tick = Millis(1_764_633_600_000);
        cron.status = Some(crate::crd::raycronjob::RayCronJobStatus {
            last_schedule_time: time(tick),
        });
        let world = crate::build::raycronjob::world::<crate::crd::rayjob::RayJob>(&cron, &[]);
        assert_eq!(world.last_schedule, Some(tick));
        let json = serde_json::to_value(time(tick)).unwrap();
        assert_eq!(json, json!("2025-12-02T00:00:00Z"));
    }
}
