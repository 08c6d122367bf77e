//! Pod-level failures reach the user in words: a condition naming the
//! RayCluster field to fix, `status.reason` for the head, and one Warning
//! Event per distinct problem, never one per turn.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{
    ClusterMachine, Command, FailedCreate, Notice, ObjectName, Observation, PodPhase, PodProblem,
    Severity, StatusSummary, Step,
    status::{HEAD_POD_READY, REPLICA_FAILURE, WORKER_POD_FAILURE},
};
use support::*;

fn warnings(step: &Step) -> Vec<&Notice> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            Command::Announce(n) if n.severity == Severity::Warning => Some(n),
            _ => None,
        })
        .collect()
}

fn status(step: &Step) -> &StatusSummary {
    step.commands
        .iter()
        .find_map(|c| match c {
            Command::PublishStatus(s) => Some(s),
            _ => None,
        })
        .expect("a status")
}

fn unschedulable(message: &str) -> PodProblem {
    PodProblem {
        reason: "Unschedulable".into(),
        message: message.into(),
        container: None,
        container_index: None,
    }
}

fn image(reason: &str) -> PodProblem {
    PodProblem {
        reason: reason.into(),
        message: format!("{reason}: image \"rayproject/ray:nope\""),
        container: Some("ray-worker".into()),
        container_index: Some(0),
    }
}

/// The seed's world with a pending head pod that has `problem`.
fn head_with(problem: PodProblem) -> Observation {
    let s = spec();
    let mut world = applied(&s);
    let mut head = pod("c-head-0", "head-1", false, T0);
    head.phase = PodPhase::Pending;
    head.problem = Some(Box::new(problem));
    world.head.pod = Some(head);
    world
}

#[test]
fn an_unschedulable_head_says_why_in_the_condition_reason_and_one_event() {
    let s = spec();
    let mut m = ClusterMachine::new();
    let scheduler = "0/3 nodes are available: 3 Insufficient cpu.";
    let step = m.step(&observed(at(1), &s, &head_with(unschedulable(scheduler))));
    let summary = status(&step);
    let head = summary.condition(HEAD_POD_READY).unwrap();
    assert!(!head.status);
    assert_eq!(head.reason, "Unschedulable");
    assert!(head.message.contains(scheduler), "{}", head.message);
    assert!(
        head.message
            .contains("spec.headGroupSpec.template.spec resources/nodeSelector"),
        "{}",
        head.message
    );
    assert!(
        summary
            .reason
            .as_deref()
            .unwrap()
            .starts_with("Unschedulable: head pod c-head-0")
    );
    let sent = warnings(&step);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].reason, "Unschedulable");

    // The same problem, reworded by the scheduler: no second Event.
    let again = m.step(&observed(
        at(2),
        &s,
        &head_with(unschedulable(
            "0/4 nodes are available: 4 Insufficient cpu.",
        )),
    ));
    assert!(warnings(&again).is_empty(), "{:?}", again.commands);
    // And a steady repeat emits nothing at all.
    let steady = m.step(&observed(
        at(3),
        &s,
        &head_with(unschedulable(
            "0/4 nodes are available: 4 Insufficient cpu.",
        )),
    ));
    assert!(steady.commands.is_empty(), "{:?}", steady.commands);
}

#[test]
fn a_head_the_statefulset_cannot_create_names_service_account_name() {
    let s = spec();
    let mut world = applied(&s);
    world.head.failed_create = Some(Box::new(FailedCreate {
        reporter: "StatefulSet c-head".into(),
        message: "create Pod c-head-0 in StatefulSet c-head failed error: pods \"c-head-0\" is \
                  forbidden: error looking up service account ns/nope: serviceaccount \"nope\" \
                  not found"
            .into(),
    }));
    let mut m = ClusterMachine::new();
    let step = m.step(&observed(at(1), &s, &world));
    let summary = status(&step);
    let failure = summary.condition(REPLICA_FAILURE).unwrap();
    assert!(failure.status);
    assert_eq!(failure.reason, "FailedCreateHeadPod");
    assert!(
        failure.message.starts_with(
            "spec.headGroupSpec.template.spec.serviceAccountName: serviceaccount \"nope\" not \
             found (FailedCreate from StatefulSet c-head"
        ),
        "{}",
        failure.message
    );
    let head = summary.condition(HEAD_POD_READY).unwrap();
    assert_eq!(head.reason, "HeadPodNotFound");
    assert!(
        head.message.contains("serviceAccountName"),
        "{}",
        head.message
    );
    assert!(
        summary
            .reason
            .as_deref()
            .unwrap()
            .starts_with("FailedCreateHeadPod: ")
    );
    assert_eq!(warnings(&step).len(), 1);
    // About the StatefulSet that reported it, so it folds with nothing else.
    assert_eq!(
        warnings(&step)[0].related,
        Some(ObjectName {
            kind: "StatefulSet".into(),
            name: "c-head".into()
        })
    );
    let again = m.step(&observed(at(2), &s, &world));
    assert!(warnings(&again).is_empty());

    // Once the pod exists the condition goes, with no Event.
    let fixed = m.step(&observed(at(3), &s, &with_head(applied(&s), "head-1")));
    assert!(warnings(&fixed).is_empty());
    assert!(status(&fixed).condition(REPLICA_FAILURE).is_none());
}

#[test]
fn worker_image_pull_failures_are_one_problem_naming_the_image_field() {
    let s = spec();
    let mut world = with_workers(with_head(applied(&s), "head-1"), "small", 2, T0);
    for p in &mut world.groups[0].pods {
        p.ready = false;
        p.phase = PodPhase::Pending;
        p.problem = Some(Box::new(image("ErrImagePull")));
    }
    let mut m = ClusterMachine::new();
    let step = m.step(&observed(at(1), &s, &world));
    let failure = status(&step).condition(WORKER_POD_FAILURE).unwrap();
    assert!(failure.status);
    assert_eq!(failure.reason, "ErrImagePull");
    assert!(
        failure.message.starts_with(
            "worker pod c-small-0: container ray-worker ErrImagePull: ErrImagePull: image"
        ),
        "{}",
        failure.message
    );
    assert!(
        failure
            .message
            .contains("(spec.workerGroupSpecs[0].template.spec.containers[0].image)"),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("and 1 more pod(s) alike"));
    assert_eq!(warnings(&step).len(), 1, "{:?}", step.commands);
    assert_eq!(
        warnings(&step)[0].related,
        Some(ObjectName {
            kind: "Pod".into(),
            name: "c-small-0".into()
        })
    );

    // The kubelet flips to ImagePullBackOff: the same problem, no new Event.
    for p in &mut world.groups[0].pods {
        p.problem = Some(Box::new(image("ImagePullBackOff")));
    }
    let flipped = m.step(&observed(at(2), &s, &world));
    assert!(warnings(&flipped).is_empty(), "{:?}", flipped.commands);
    assert_eq!(
        status(&flipped)
            .condition(WORKER_POD_FAILURE)
            .unwrap()
            .reason,
        "ImagePullBackOff"
    );
}

#[test]
fn a_problem_that_flickers_is_announced_again_only_after_recovery() {
    let s = spec();
    let crashing = |crash: bool| {
        let mut world = with_workers(with_head(applied(&s), "head-1"), "small", 2, T0);
        if crash {
            let p = &mut world.groups[0].pods[1];
            p.ready = false;
            p.problem = Some(Box::new(PodProblem {
                reason: "CrashLoopBackOff".into(),
                message: "back-off 10s restarting failed container".into(),
                container: Some("ray-worker".into()),
                container_index: Some(0),
            }));
        } else {
            world.groups[0].pods[1].ready = false;
        }
        world
    };
    let mut m = ClusterMachine::new();
    let first = m.step(&observed(at(1), &s, &crashing(true)));
    assert_eq!(warnings(&first).len(), 1);
    assert!(
        status(&first)
            .condition(WORKER_POD_FAILURE)
            .unwrap()
            .message
            .contains("spec.workerGroupSpecs[0].template.spec.containers[0] command/args")
    );
    // Running between crashes, never Ready: not forgotten, not re-announced.
    let between = m.step(&observed(at(2), &s, &crashing(false)));
    assert!(warnings(&between).is_empty());
    assert!(status(&between).condition(WORKER_POD_FAILURE).is_none());
    let back = m.step(&observed(at(3), &s, &crashing(true)));
    assert!(warnings(&back).is_empty(), "{:?}", back.commands);
    // Healthy, then crashing again: a new Event.
    let healthy = m.step(&observed(at(4), &s, &converged(&s)));
    assert!(warnings(&healthy).is_empty());
    let relapse = m.step(&observed(at(5), &s, &crashing(true)));
    assert_eq!(warnings(&relapse).len(), 1, "{:?}", relapse.commands);
}

#[test]
fn a_worker_group_that_cannot_create_pods_names_its_own_index() {
    let mut s = spec();
    s.groups.push(group("gpu", 1, 0, 2));
    let mut world = with_workers(with_head(applied(&s), "head-1"), "small", 2, T0);
    world.groups[1].failed_create = Some(Box::new(FailedCreate {
        reporter: "Deployment c-gpu".into(),
        message: "pods \"c-gpu-x\" is forbidden: exceeded quota: gpu, requested: nvidia.com/gpu=1"
            .into(),
    }));
    let mut m = ClusterMachine::new();
    let step = m.step(&observed(at(1), &s, &world));
    let failure = status(&step).condition(REPLICA_FAILURE).unwrap();
    assert_eq!(failure.reason, "FailedCreateWorkerPod");
    assert!(
        failure.message.starts_with(
            "spec.workerGroupSpecs[1].template.spec.containers[*].resources: exceeded quota"
        ),
        "{}",
        failure.message
    );
    // Workers' troubles do not take status.reason from the head.
    assert!(status(&step).reason.is_none());
}

#[test]
fn a_restored_machine_does_not_announce_a_known_problem_again() {
    let s = spec();
    let world = head_with(unschedulable("0/1 nodes are available"));
    let mut m = ClusterMachine::new();
    assert_eq!(warnings(&m.step(&observed(at(1), &s, &world))).len(), 1);
    let mut restored: ClusterMachine =
        serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    let step = restored.step(&observed(at(2), &s, &world));
    assert!(warnings(&step).is_empty(), "{:?}", step.commands);
}

#[test]
fn a_suspended_cluster_reports_no_pod_troubles() {
    let mut s = spec();
    s.suspend = true;
    let mut m = ClusterMachine::new();
    let step = m.step(&observed(
        at(1),
        &s,
        &head_with(unschedulable("0/1 nodes are available")),
    ));
    assert!(warnings(&step).is_empty());
    assert_eq!(
        status(&step).condition(HEAD_POD_READY).unwrap().reason,
        "HeadPodNotReady"
    );
}

#[test]
fn a_problem_after_a_suspension_is_announced_again() {
    let s = spec();
    let world = head_with(unschedulable("0/1 nodes are available"));
    let mut m = ClusterMachine::new();
    assert_eq!(warnings(&m.step(&observed(at(1), &s, &world))).len(), 1);
    let mut suspended = spec();
    suspended.suspend = true;
    m.step(&observed(at(2), &suspended, &applied(&suspended)));
    let resumed = m.step(&observed(at(3), &s, &world));
    assert_eq!(warnings(&resumed).len(), 1, "{:?}", resumed.commands);
}
