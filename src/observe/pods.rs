//! Pods → [`PodView`]s: the facts about a pod the machine decides on.
//!
//! Invariant: total on malformed input. A pod with no status, no conditions,
//! an unknown phase or no creation time still yields a view (not Ready,
//! phase Unknown, created at 0); nothing here can fail. A problem's message
//! is at most [`MAX_PROBLEM_MESSAGE`] characters.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodTemplateSpec};
use rayop_machines::{Millis, PodPhase, PodProblem, PodView};

use crate::{
    build::autoscaler_sidecar::AUTOSCALER_CONTAINER_NAME,
    desired::{Object, ObjectSet},
};

/// The longest scheduler or kubelet message a [`PodProblem`] keeps, in characters.
pub const MAX_PROBLEM_MESSAGE: usize = 400;

/// Waiting reasons that are progress, not a problem.
const STARTING: [&str; 2] = ["ContainerCreating", "PodInitializing"];

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
        problem: problem(pod).map(Box::new),
        // Set by the observer, which knows the pod's workload.
        outdated: false,
    }
}

/// The view of one pod whose template's containers are named `containers`,
/// in order, so a container's problem names its position in the template.
#[must_use]
pub fn pod_view_in(pod: &Pod, containers: &[String]) -> PodView {
    let mut view = pod_view(pod);
    if let Some(problem) = view.problem.as_mut() {
        problem.container_index = problem
            .container
            .as_ref()
            .and_then(|name| containers.iter().position(|c| c == name))
            .and_then(|i| u32::try_from(i).ok());
    }
    view
}

/// The names of the containers of `set`'s workload template, in order,
/// without the autoscaler sidecar rayop appends (the template has no such
/// position; its problems point at `spec.autoscalerOptions`).
#[must_use]
pub fn template_containers(set: &ObjectSet) -> Vec<String> {
    let template: Option<&PodTemplateSpec> = match set.workload() {
        Some(Object::StatefulSet(s)) => s.spec.as_ref().map(|s| &s.template),
        Some(Object::Deployment(d)) => d.spec.as_ref().map(|s| &s.template),
        _ => None,
    };
    template
        .and_then(|t| t.spec.as_ref())
        .map(|spec| {
            let mut names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
            if names.last().is_some_and(|n| n == AUTOSCALER_CONTAINER_NAME) {
                names.pop();
            }
            names
        })
        .unwrap_or_default()
}

/// What keeps the pod from running: the scheduler's `Unschedulable`, or the
/// first container (by name) waiting for a reason other than starting up.
#[must_use]
pub fn problem(pod: &Pod) -> Option<PodProblem> {
    let status = pod.status.as_ref()?;
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    if let Some(condition) = unschedulable {
        return Some(PodProblem {
            reason: "Unschedulable".to_owned(),
            message: bounded(condition.message.as_deref().unwrap_or_default()),
            container: None,
            container_index: None,
        });
    }
    status
        .container_statuses
        .iter()
        .flatten()
        .find_map(container_problem)
}

fn container_problem(status: &ContainerStatus) -> Option<PodProblem> {
    let waiting = status.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting
        .reason
        .as_deref()
        .filter(|r| !STARTING.contains(r))?;
    let mut message = waiting.message.clone().unwrap_or_default();
    let last = status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    if let Some(last) = last {
        let why = last.reason.as_deref().unwrap_or("terminated");
        message = format!("{message}; last exit: {why}, code {}", last.exit_code);
    }
    Some(PodProblem {
        reason: reason.to_owned(),
        message: bounded(message.trim_start_matches("; ")),
        container: Some(status.name.clone()),
        container_index: None,
    })
}

fn bounded(text: &str) -> String {
    rayop_machines::bounded(text, MAX_PROBLEM_MESSAGE)
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

#[cfg(test)]
mod problem_tests {
    use super::*;

    fn fixture(name: &str) -> Pod {
        let path = format!(
            "{}/tests/fixtures/k8s/pods/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        serde_yaml::from_str(&text).unwrap()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn an_unschedulable_pod_carries_the_schedulers_message() {
        let view = pod_view(&fixture("unschedulable-head.yaml"));
        let problem = view.problem.unwrap();
        assert_eq!(problem.reason, "Unschedulable");
        assert!(
            problem
                .message
                .starts_with("0/3 nodes are available: 3 Insufficient cpu.")
        );
        assert_eq!(problem.container, None);
    }

    #[test]
    fn an_image_pull_back_off_names_the_container_and_its_template_position() {
        let view = pod_view_in(
            &fixture("image-pull-backoff-worker.yaml"),
            &names(&["ray-worker"]),
        );
        let problem = view.problem.unwrap();
        assert_eq!(problem.reason, "ImagePullBackOff");
        assert_eq!(problem.container.as_deref(), Some("ray-worker"));
        assert_eq!(problem.container_index, Some(0));
        assert!(problem.message.contains("does-not-exist"));
    }

    #[test]
    fn a_crash_loop_says_how_the_container_last_ended() {
        let pod = fixture("crash-loop-head.yaml");
        let view = pod_view_in(&pod, &names(&["ray-head", "autoscaler"]));
        let problem = view.problem.unwrap();
        assert_eq!(problem.reason, "CrashLoopBackOff");
        assert_eq!(problem.container.as_deref(), Some("ray-head"));
        assert_eq!(problem.container_index, Some(0));
        assert!(
            problem.message.ends_with("; last exit: Error, code 1"),
            "{}",
            problem.message
        );
        assert_eq!(view.restarts, 4);
    }

    #[test]
    fn a_config_error_is_found_among_containers_still_starting() {
        let view = pod_view_in(
            &fixture("create-container-config-error-worker.yaml"),
            &names(&["sidecar", "ray-worker"]),
        );
        let problem = view.problem.unwrap();
        assert_eq!(problem.reason, "CreateContainerConfigError");
        assert_eq!(problem.container_index, Some(1));
        assert_eq!(problem.message, "secret \"ray-creds\" not found");
    }

    #[test]
    fn a_container_outside_the_template_has_no_position() {
        let view = pod_view_in(&fixture("image-pull-backoff-worker.yaml"), &[]);
        assert_eq!(view.problem.unwrap().container_index, None);
    }

    #[test]
    fn a_healthy_or_starting_pod_has_no_problem() {
        assert_eq!(problem(&Pod::default()), None);
        let mut pod = fixture("create-container-config-error-worker.yaml");
        if let Some(statuses) = pod
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
        {
            statuses.retain(|c| c.name == "sidecar");
        }
        assert_eq!(problem(&pod), None);
    }

    #[test]
    fn long_messages_are_bounded() {
        let mut pod = fixture("unschedulable-head.yaml");
        if let Some(conditions) = pod.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            conditions[0].message = Some("x".repeat(10_000));
        }
        let message = problem(&pod).unwrap().message;
        assert_eq!(message.chars().count(), MAX_PROBLEM_MESSAGE);
    }
}
