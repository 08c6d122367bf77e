//! Status: the summary of the machine's last `PublishStatus` plus live facts
//! become the RayCluster's `status`, written only when it differs from what
//! is there ([`publish()`]).
//!
//! Besides the machine's summary: `desiredCPU`, `desiredMemory`,
//! `desiredGPU` and `desiredTPU` are computed from the spec
//! ([`DesiredResources`]), `availableWorkerReplicas` counts the live worker
//! pods in phase Running, and `stateTransitionTimes` stamps `state` with the
//! time it took its value.
//!
//! Invariants:
//! - Level-triggered: the desired status is recomputed from that summary and
//!   the caches on every reconcile, so a status that was lost or
//!   overwritten is restored, and an unchanged one is never written.
//! - Timestamps never cause a write: `lastUpdateTime` and each condition's
//!   `lastTransitionTime` are ignored when comparing, and a condition keeps its
//!   `lastTransitionTime` while its status stays the same;
//!   `stateTransitionTimes` gains a key only together with a new `state`.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Pod, Service},
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{Condition, Time},
    },
    jiff::Timestamp,
};
use kube::ResourceExt;
use rayop_machines::{Millis, StatusSummary};

use crate::{
    build::desired_resources::DesiredResources,
    crd::{
        RayCluster, names,
        status::{ClusterState, HeadInfo, Phase, RayClusterStatus, WorkerCounts},
    },
};

/// Live facts the status shows besides the machine's summary.
#[derive(Clone, Debug, Default)]
pub struct LiveFacts<'a> {
    /// The head pod, if any.
    pub head_pod: Option<&'a Pod>,
    /// The head Service, if any.
    pub head_service: Option<&'a Service>,
    /// The cluster's pods, head and workers.
    pub pods: Vec<&'a Pod>,
}

/// Worker pods (label `ray.io/node-type=worker`) in phase Running:
/// `availableWorkerReplicas`.
fn running_workers(pods: &[&Pod]) -> i32 {
    let running = pods
        .iter()
        .filter(|pod| {
            pod.metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(names::LABEL_NODE_TYPE))
                .is_some_and(|t| t == names::NODE_TYPE_WORKER)
        })
        .filter(|pod| {
            pod.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|phase| phase == "Running")
        })
        .count();
    i32::try_from(running).unwrap_or(i32::MAX)
}

/// `stateTransitionTimes`: the previous times, plus `now` for `state` when it
/// differs from the previous `state`.
fn state_times(
    previous: Option<&RayClusterStatus>,
    state: Option<ClusterState>,
    now: Timestamp,
) -> BTreeMap<String, Time> {
    let mut times = previous
        .map(|p| p.state_transition_times.clone())
        .unwrap_or_default();
    if let Some(state) = state
        && previous.and_then(|p| p.state) != Some(state)
    {
        times.insert(state.as_str().to_owned(), Time(now));
    }
    times
}

/// The one mapping of the machine's phase to the API's.
impl From<rayop_machines::Phase> for Phase {
    fn from(p: rayop_machines::Phase) -> Phase {
        use rayop_machines::Phase as M;
        match p {
            M::Pending => Phase::Pending,
            M::HeadStarting => Phase::HeadStarting,
            M::Scaling => Phase::Scaling,
            M::Ready => Phase::Ready,
            M::Recovering => Phase::Recovering,
            M::Suspended => Phase::Suspended,
            M::Deleted => Phase::Deleted,
        }
    }
}

/// A moment as the API stores it: `Time` is serialized to whole seconds, so
/// anything finer would make every comparison with the live status differ.
fn time(at: Millis) -> Time {
    let seconds = i64::try_from(at.0 / 1000).unwrap_or(i64::MAX);
    Time(Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// The status to publish for `cluster`, given the machine's summary, live
/// facts, and the time to stamp on anything that changed now.
#[must_use]
pub fn desired_status(
    cluster: &RayCluster,
    summary: &StatusSummary,
    live: &LiveFacts<'_>,
    now: Timestamp,
) -> RayClusterStatus {
    let now = whole_seconds(now);
    let previous = cluster.status.as_ref();
    let counts = WorkerCounts::of(&cluster.spec);
    let resources = DesiredResources::of(&cluster.spec);
    let provisioned = summary
        .condition(rayop_machines::status::PROVISIONED)
        .is_some_and(|c| c.status);
    // KubeRay v1.7 writes only `ready` and `suspended` (`failed` is
    // deprecated): an invalid spec keeps the state it had and says why in
    // `reason` and the InvalidSpec condition.
    let state = match summary.phase {
        rayop_machines::Phase::Suspended => Some(ClusterState::Suspended),
        _ if provisioned => Some(ClusterState::Ready),
        _ => None,
    };
    let conditions = summary
        .conditions
        .iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" };
            let since = previous
                .and_then(|p| p.conditions.iter().find(|old| old.type_ == c.kind))
                .filter(|old| old.status == status)
                .map_or_else(|| Time(now), |old| old.last_transition_time.clone());
            Condition {
                type_: c.kind.clone(),
                status: status.to_owned(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                observed_generation: Some(summary.observed_generation),
                last_transition_time: since,
            }
        })
        .collect();
    let name = cluster.name_any();
    let head = HeadInfo {
        pod_ip: live
            .head_pod
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.pod_ip.clone()),
        // A headless Service has no IP of its own: its name resolves to the
        // head pod, so that is the IP reported (as KubeRay does).
        service_ip: live
            .head_service
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.cluster_ip.clone())
            .and_then(|ip| {
                if ip == "None" {
                    live.head_pod
                        .and_then(|p| p.status.as_ref())
                        .and_then(|s| s.pod_ip.clone())
                } else {
                    Some(ip)
                }
            }),
        pod_name: live.head_pod.map(ResourceExt::name_any),
        service_name: Some(cluster.spec.head_service_name(&name)),
    };
    let endpoints = live
        .head_service
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.ports.as_ref())
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.name.clone().map(|n| (n, p.port.to_string())))
                .collect()
        })
        .unwrap_or_default();
    RayClusterStatus {
        state,
        state_transition_times: state_times(previous, state, now),
        reason: summary.reason.clone(),
        ready_worker_replicas: Some(summary.ready_workers()),
        available_worker_replicas: Some(running_workers(&live.pods)),
        desired_worker_replicas: Some(summary.desired_workers()),
        min_worker_replicas: Some(counts.min),
        max_worker_replicas: Some(counts.max),
        desired_cpu: Some(Quantity(resources.cpu)),
        desired_memory: Some(Quantity(resources.memory)),
        desired_gpu: Some(Quantity(resources.gpu)),
        desired_tpu: Some(Quantity(resources.tpu)),
        endpoints,
        head: Some(head),
        conditions,
        observed_generation: Some(summary.observed_generation),
        last_update_time: previous.and_then(|p| p.last_update_time.clone()),
        phase: Some(summary.phase.into()),
        phase_transition_times: summary
            .phase_times
            .iter()
            .map(|(p, at)| (p.as_str().to_owned(), time(*at)))
            .collect(),
    }
}

fn comparable(status: &RayClusterStatus) -> RayClusterStatus {
    let mut s = status.clone();
    s.last_update_time = None;
    for c in &mut s.conditions {
        c.last_transition_time = Time(Timestamp::UNIX_EPOCH);
    }
    s.conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
    s
}

/// Whether `desired` differs from the live status in anything but
/// timestamps, on the fields rayop writes.
///
/// Fields `desired` leaves out are not compared: rayop's server-side apply
/// leaves them to whoever owns them, so a field another writer set (a
/// `reason`, say) can never be changed by writing again, and comparing it
/// would make rayop rewrite its status forever. A field rayop stops setting
/// is removed by its next write, which the change that cleared it (phase,
/// counts, conditions) always brings.
#[must_use]
pub fn differs(live: Option<&RayClusterStatus>, desired: &RayClusterStatus) -> bool {
    let Some(live) = live else {
        return true;
    };
    match (
        serde_json::to_value(comparable(live)),
        serde_json::to_value(comparable(desired)),
    ) {
        (Ok(live), Ok(desired)) => !covers(&live, &desired),
        _ => comparable(live) != comparable(desired),
    }
}

/// Whether `live` holds every value `desired` sets (objects field by field,
/// anything else whole).
fn covers(live: &serde_json::Value, desired: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (live, desired) {
        (_, Value::Null) => true,
        (Value::Object(l), Value::Object(d)) => d
            .iter()
            .all(|(k, dv)| dv.is_null() || l.get(k).is_some_and(|lv| covers(lv, dv))),
        _ => live == desired,
    }
}

pub mod pacing;
pub mod publish;

pub use publish::{Published, publish};

#[cfg(test)]
mod tests;
