//! Learns why a workload controller cannot create a cluster's pods, only
//! when it matters, and adds it to the observation as a fact.
//!
//! StatefulSets have no status condition for a failed pod create; their
//! controller records a `FailedCreate` Warning Event on the StatefulSet. A
//! Deployment's controller copies its ReplicaSet's `ReplicaFailure`
//! condition into the Deployment's status, which the cache already holds.
//!
//! Invariants:
//! - No watch on Events. An Event list, filtered on the server by the
//!   StatefulSet's UID and the reason, is made only for a workload that
//!   has existed for [`GRACE`] and still lacks pods; a Deployment costs no
//!   call at all. A steady cluster makes none.
//! - An Event older than [`FRESH_FOR`] is stale: the controller repeats the
//!   Event on every retry, so a problem that persists stays fresh.
//! - A list that fails (no `list` right on events, a timeout) yields no fact
//!   and is logged; it never fails the reconcile.

use std::time::Duration;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, StatefulSet},
        core::v1::Event as KubeEvent,
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{Api, Client, api::ListParams};
use rayop_machines::{FailedCreate, Millis, Observation};
use tracing::debug;

use super::caches::ClusterView;
use crate::desired::{DesiredObjects, Kind, ObjectSet};

/// How long a workload may lack pods before rayop asks why.
pub const GRACE: Duration = Duration::from_secs(5);
/// How long a `FailedCreate` Event counts as current after it was last seen.
pub const FRESH_FOR: Duration = Duration::from_secs(15 * 60);
/// The reason workload controllers give a failed pod create.
pub const FAILED_CREATE: &str = "FailedCreate";
/// The longest controller message kept, in characters.
pub const MAX_MESSAGE: usize = 500;

/// A workload that lacks pods.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Missing {
    /// The head's StatefulSet.
    Head,
    /// The workload of `world.groups[index]`.
    Group(usize),
}

/// Adds `failed_create` facts to `world` for workloads that lack pods.
/// Returns how soon to look again, when a workload lacks pods but is still
/// within its [`GRACE`].
pub async fn attach(
    client: &Client,
    namespace: &str,
    desired: Option<&DesiredObjects>,
    view: &ClusterView<'_>,
    world: &mut Observation,
    now: Millis,
) -> Option<Duration> {
    let desired = desired?;
    let mut again: Option<Duration> = None;
    for missing in lacking_pods(world) {
        let set = match &missing {
            Missing::Head => Some(&desired.head),
            Missing::Group(i) => world.groups.get(*i).and_then(|g| desired.group(&g.name)),
        };
        let Some((kind, name)) = set.and_then(workload_of) else {
            continue;
        };
        let fact = match kind {
            Kind::Deployment => view
                .owned::<Deployment>(kind, &name)
                .and_then(|d| from_deployment(&d)),
            _ => {
                let Some(sts) = view.owned::<StatefulSet>(kind, &name) else {
                    continue;
                };
                let age = now.since(millis(sts.metadata.creation_timestamp.as_ref()));
                let age = Duration::from_millis(age);
                if age < GRACE {
                    let wait = GRACE.saturating_sub(age);
                    again = Some(again.map_or(wait, |a| a.min(wait)));
                    continue;
                }
                let Some(uid) = sts.metadata.uid.as_deref() else {
                    continue;
                };
                list_failed_creates(client, namespace, uid)
                    .await
                    .and_then(|events| from_events(&events, &name, now))
            }
        };
        match missing {
            Missing::Head => world.head.failed_create = fact.map(Box::new),
            Missing::Group(i) => {
                if let Some(group) = world.groups.get_mut(i) {
                    group.failed_create = fact.map(Box::new);
                }
            }
        }
    }
    again
}

/// The workloads whose pods are fewer than their replicas.
fn lacking_pods(world: &Observation) -> Vec<Missing> {
    let mut out = Vec::new();
    if world.head.applied.as_ref().is_some_and(|a| a.replicas > 0) && world.head.pod.is_none() {
        out.push(Missing::Head);
    }
    for (i, group) in world.groups.iter().enumerate() {
        let live = group.pods.iter().filter(|p| !p.terminating).count();
        let want = group.applied.as_ref().map_or(0, |a| a.replicas);
        if usize::try_from(want).is_ok_and(|want| live < want) {
            out.push(Missing::Group(i));
        }
    }
    out
}

fn workload_of(set: &ObjectSet) -> Option<(Kind, String)> {
    set.workload().map(|w| {
        let key = w.key();
        (key.kind, key.name)
    })
}

async fn list_failed_creates(
    client: &Client,
    namespace: &str,
    uid: &str,
) -> Option<Vec<KubeEvent>> {
    let api: Api<KubeEvent> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default()
        .fields(&format!("involvedObject.uid={uid},reason={FAILED_CREATE}"))
        .limit(20);
    match api.list(&params).await {
        Ok(list) => Some(list.items),
        Err(error) => {
            debug!(%error, "could not list FailedCreate Events; reporting without them");
            None
        }
    }
}

fn millis(time: Option<&Time>) -> Millis {
    time.map_or(Millis(0), |t| {
        Millis(u64::try_from(t.0.as_millisecond()).unwrap_or(0))
    })
}

/// When an Event was last seen, whichever way its recorder wrote it.
fn last_seen(event: &KubeEvent) -> Millis {
    let series = event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| Time(t.0));
    let micro = event.event_time.as_ref().map(|t| Time(t.0));
    [
        millis(series.as_ref()),
        millis(event.last_timestamp.as_ref()),
        millis(micro.as_ref()),
        millis(event.first_timestamp.as_ref()),
        millis(event.metadata.creation_timestamp.as_ref()),
    ]
    .into_iter()
    .max()
    .unwrap_or(Millis(0))
}

/// The newest fresh `FailedCreate` Warning among `events`, from StatefulSet `name`.
#[must_use]
pub fn from_events(events: &[KubeEvent], name: &str, now: Millis) -> Option<FailedCreate> {
    let fresh_ms = u64::try_from(FRESH_FOR.as_millis()).unwrap_or(u64::MAX);
    events
        .iter()
        .filter(|e| e.reason.as_deref() == Some(FAILED_CREATE))
        .filter(|e| e.type_.as_deref() != Some("Normal"))
        .map(|e| (last_seen(e), e))
        .filter(|(seen, _)| now.since(*seen) <= fresh_ms)
        .max_by_key(|(seen, e)| (*seen, e.metadata.name.clone()))
        .map(|(_, e)| FailedCreate {
            reporter: format!("StatefulSet {name}"),
            message: bounded(e.message.as_deref().unwrap_or_default()),
        })
}

/// A Deployment's `ReplicaFailure` condition, when True.
#[must_use]
pub fn from_deployment(deployment: &Deployment) -> Option<FailedCreate> {
    let condition = deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")?;
    Some(FailedCreate {
        reporter: format!(
            "Deployment {}",
            deployment.metadata.name.as_deref().unwrap_or_default()
        ),
        message: bounded(condition.message.as_deref().unwrap_or_default()),
    })
}

fn bounded(text: &str) -> String {
    rayop_machines::bounded(text, MAX_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
    use rayop_machines::{Applied, GroupObservation, PodView};

    const NOW: Millis = Millis(1_767_225_600_000); // 2026-01-01T00:00:00Z

    fn event(name: &str, reason: &str, last: &str, message: &str) -> KubeEvent {
        KubeEvent {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            reason: Some(reason.into()),
            type_: Some("Warning".into()),
            last_timestamp: Some(Time(last.parse().unwrap())),
            message: Some(message.into()),
            ..KubeEvent::default()
        }
    }

    #[test]
    fn the_newest_fresh_failed_create_wins() {
        let events = [
            event("a", "FailedCreate", "2025-12-31T23:58:00Z", "older"),
            event("b", "FailedCreate", "2025-12-31T23:59:00Z", "newer"),
            event("c", "SuccessfulCreate", "2025-12-31T23:59:30Z", "created"),
        ];
        let fact = from_events(&events, "c-head", NOW).unwrap();
        assert_eq!(fact.reporter, "StatefulSet c-head");
        assert_eq!(fact.message, "newer");
    }

    #[test]
    fn a_stale_event_is_no_fact() {
        let events = [event("a", "FailedCreate", "2025-12-31T23:00:00Z", "old")];
        assert_eq!(from_events(&events, "c-head", NOW), None);
    }

    #[test]
    fn a_deployment_reports_its_replica_failure_condition() {
        let mut deployment = Deployment::default();
        deployment.metadata.name = Some("c-gpu".into());
        deployment.status = Some(DeploymentStatus {
            conditions: Some(vec![DeploymentCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some("FailedCreate".into()),
                message: Some("x".repeat(2000)),
                ..DeploymentCondition::default()
            }]),
            ..DeploymentStatus::default()
        });
        let fact = from_deployment(&deployment).unwrap();
        assert_eq!(fact.reporter, "Deployment c-gpu");
        assert_eq!(fact.message.chars().count(), MAX_MESSAGE);
        if let Some(c) = deployment
            .status
            .as_mut()
            .and_then(|s| s.conditions.as_mut())
        {
            c[0].status = "False".into();
        }
        assert_eq!(from_deployment(&deployment), None);
    }

    #[test]
    fn only_workloads_short_of_pods_are_looked_at() {
        let applied = |replicas| Some(Applied::new("h", replicas));
        let pod = |terminating| PodView {
            outdated: false,
            terminating,
            ..PodView::default()
        };
        let mut world = Observation::default();
        world.head.applied = applied(1);
        world.groups = vec![
            GroupObservation {
                name: "full".into(),
                applied: applied(1),
                pods: vec![pod(false)],
                ..GroupObservation::default()
            },
            GroupObservation {
                name: "short".into(),
                applied: applied(2),
                pods: vec![pod(false), pod(true)],
                ..GroupObservation::default()
            },
            GroupObservation {
                name: "none".into(),
                applied: applied(0),
                ..GroupObservation::default()
            },
        ];
        assert_eq!(lacking_pods(&world), vec![Missing::Head, Missing::Group(1)]);
        world.head.pod = Some(pod(false));
        assert_eq!(lacking_pods(&world), vec![Missing::Group(1)]);
    }
}
