//! Pods → [`PodView`]s: the facts about a pod the machine decides on.
//!
//! Invariant: total on malformed input. A pod with no status, no conditions,
//! an unknown phase or no creation time still yields a view (not Ready,
//! phase Unknown, created at 0); nothing here can fail.

use k8s_openapi::api::core::v1::Pod;
use rayop_machines::{Millis, PodPhase, PodView};

/// The annotation the ReplicaSet controller orders scale-down by: lowest first.
pub const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";
/// The cost rayop gives a pod chosen for removal: the lowest there is.
pub const FIRST_TO_GO: &str = "-2147483648";

/// The view of one pod.
#[must_use]
pub fn pod_view(pod: &Pod) -> PodView {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let phase = match status.and_then(|s| s.phase.as_deref()) {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unknown,
    };
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let restarts = status
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| {
            cs.iter()
                .map(|c| c.restart_count.max(0))
                .fold(0i32, i32::saturating_add)
        });
    let created = meta.creation_timestamp.as_ref().map_or(Millis(0), |t| {
        Millis(u64::try_from(t.0.as_millisecond()).unwrap_or(0))
    });
    let marked = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST_ANNOTATION))
        .is_some_and(|cost| cost == FIRST_TO_GO);
    PodView {
        marked,
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        phase,
        ready,
        restarts,
        created,
        terminating: meta.deletion_timestamp.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn running(ready: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("c-head-0".into()),
                uid: Some("u1".into()),
                creation_timestamp: Some(Time("2026-01-01T00:00:01Z".parse().unwrap())),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: ready.into(),
                    ..PodCondition::default()
                }]),
                container_statuses: Some(vec![
                    ContainerStatus {
                        restart_count: 2,
                        ..ContainerStatus::default()
                    },
                    ContainerStatus {
                        restart_count: 1,
                        ..ContainerStatus::default()
                    },
                ]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn a_ready_running_pod_is_serving() {
        let view = pod_view(&running("True"));
        assert!(view.is_serving());
        assert_eq!(view.restarts, 3);
        assert_eq!(view.uid, "u1");
        assert_eq!(view.created, Millis(1_767_225_601_000));
    }

    #[test]
    fn a_pod_whose_ready_condition_is_false_is_not_serving() {
        assert!(!pod_view(&running("False")).is_serving());
    }

    #[test]
    fn an_empty_pod_yields_a_safe_view() {
        let view = pod_view(&Pod::default());
        assert_eq!(view.phase, PodPhase::Unknown);
        assert!(!view.ready);
        assert_eq!(view.created, Millis(0));
    }

    #[test]
    fn a_terminating_pod_is_not_serving() {
        let mut pod = running("True");
        pod.metadata.deletion_timestamp = Some(Time("2026-01-01T00:00:05Z".parse().unwrap()));
        assert!(!pod_view(&pod).is_serving());
    }

    #[test]
    fn negative_restart_counts_do_not_underflow() {
        let mut pod = running("True");
        if let Some(status) = pod.status.as_mut() {
            status.container_statuses = Some(vec![ContainerStatus {
                restart_count: -5,
                ..ContainerStatus::default()
            }]);
        }
        assert_eq!(pod_view(&pod).restarts, 0);
    }
}

#[cfg(test)]
mod mark_tests {
    use super::*;

    #[test]
    fn only_the_lowest_cost_counts_as_marked() {
        let mut pod = Pod::default();
        assert!(!pod_view(&pod).marked);
        pod.metadata.annotations =
            Some([(DELETION_COST_ANNOTATION.to_owned(), "5".to_owned())].into());
        assert!(!pod_view(&pod).marked);
        pod.metadata.annotations =
            Some([(DELETION_COST_ANNOTATION.to_owned(), FIRST_TO_GO.to_owned())].into());
        assert!(pod_view(&pod).marked);
    }
}
