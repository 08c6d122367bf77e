//! Unit tests of the status mapping.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{PodStatus, ServicePort, ServiceSpec},
    jiff::Timestamp,
};
use rayop_machines::{
    Phase as MPhase,
    status::{ConditionSummary, GroupStatus},
};

use super::*;
use crate::crd::test_builders::group;

fn summary(phase: MPhase, provisioned: bool) -> StatusSummary {
    StatusSummary {
        phase,
        phase_times: BTreeMap::from([(MPhase::Pending, Millis(1_000)), (phase, Millis(5_000))]),
        observed_generation: 3,
        reason: None,
        groups: vec![GroupStatus {
            name: "small".into(),
            desired: 2,
            ready: 1,
            requested: 2,
            clamped: false,
            held: None,
        }],
        conditions: vec![ConditionSummary {
            kind: "RayClusterProvisioned".into(),
            status: provisioned,
            reason: "r".into(),
            message: "m".into(),
        }],
    }
}

fn now(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

#[test]
fn counts_phase_and_times_are_mapped() {
    let cluster = RayCluster::test("rc").with_group(group("small").with_replicas(2).bounds(1, 3));
    let s = desired_status(
        &cluster,
        &summary(MPhase::Scaling, false),
        &LiveFacts::default(),
        now(10),
    );
    assert_eq!(s.phase, Some(Phase::Scaling));
    assert_eq!(s.ready_worker_replicas, Some(1));
    assert_eq!(s.desired_worker_replicas, Some(2));
    assert_eq!(
        (s.min_worker_replicas, s.max_worker_replicas),
        (Some(1), Some(3))
    );
    assert_eq!(s.observed_generation, Some(3));
    assert_eq!(s.state, None);
    assert_eq!(s.phase_transition_times.len(), 2);
    assert_eq!(
        s.phase_transition_times["Scaling"].0.as_millisecond(),
        5_000
    );
}

#[test]
fn provisioned_clusters_are_ready_in_kuberay_terms() {
    let cluster = RayCluster::test("rc");
    let s = desired_status(
        &cluster,
        &summary(MPhase::Scaling, true),
        &LiveFacts::default(),
        now(10),
    );
    assert_eq!(s.state, Some(ClusterState::Ready));
}

#[test]
fn an_invalid_spec_never_writes_the_deprecated_failed_state() {
    let mut invalid = summary(MPhase::Pending, false);
    invalid.reason = Some(rayop_machines::status::INVALID_SPEC.into());
    invalid.conditions.push(ConditionSummary {
        kind: rayop_machines::status::INVALID_SPEC.into(),
        status: true,
        reason: rayop_machines::status::INVALID_SPEC.into(),
        message: "spec.workerGroupSpecs[0].minReplicas: must be at most maxReplicas".into(),
    });
    let cluster = RayCluster::test("rc");
    let s = desired_status(&cluster, &invalid, &LiveFacts::default(), now(10));
    assert_eq!(s.state, None, "no state before the cluster was ever ready");
    assert_eq!(
        s.reason.as_deref(),
        Some(rayop_machines::status::INVALID_SPEC)
    );
    assert!(
        s.conditions
            .iter()
            .any(|c| c.type_ == rayop_machines::status::INVALID_SPEC && c.status == "True"),
        "the condition still says why"
    );

    // A cluster that was ready keeps `ready`, as KubeRay leaves the state
    // of a cluster whose spec became invalid.
    let mut provisioned = invalid.clone();
    provisioned.conditions[0].status = true;
    let s = desired_status(&cluster, &provisioned, &LiveFacts::default(), now(10));
    assert_eq!(s.state, Some(ClusterState::Ready));
    assert!(!s.state_transition_times.contains_key("failed"));
}

#[test]
fn a_headless_head_service_reports_the_head_pod_ip() {
    let cluster = RayCluster::test("rc");
    let pod = Pod {
        status: Some(PodStatus {
            pod_ip: Some("10.64.0.9".into()),
            ..PodStatus::default()
        }),
        ..Pod::default()
    };
    let svc = Service {
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let live = LiveFacts {
        head_pod: Some(&pod),
        head_service: Some(&svc),
        pods: vec![&pod],
    };
    let s = desired_status(&cluster, &summary(MPhase::Ready, true), &live, now(10));
    assert_eq!(s.head.unwrap().service_ip.as_deref(), Some("10.64.0.9"));
}

#[test]
fn head_facts_and_endpoints_come_from_live_objects() {
    let cluster = RayCluster::test("rc");
    let mut pod = Pod::default();
    pod.metadata.name = Some("rc-head-0".into());
    pod.status = Some(PodStatus {
        pod_ip: Some("10.64.0.7".into()),
        ..PodStatus::default()
    });
    let svc = Service {
        spec: Some(ServiceSpec {
            cluster_ip: Some("10.0.0.12".into()),
            ports: Some(vec![ServicePort {
                name: Some("dashboard".into()),
                port: 8265,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let live = LiveFacts {
        head_pod: Some(&pod),
        head_service: Some(&svc),
        pods: vec![&pod],
    };
    let s = desired_status(&cluster, &summary(MPhase::Ready, true), &live, now(10));
    let head = s.head.unwrap();
    assert_eq!(head.pod_ip.as_deref(), Some("10.64.0.7"));
    assert_eq!(head.service_ip.as_deref(), Some("10.0.0.12"));
    assert_eq!(head.pod_name.as_deref(), Some("rc-head-0"));
    assert_eq!(head.service_name.as_deref(), Some("rc-head-svc"));
    assert_eq!(s.endpoints["dashboard"], "8265");
}

#[test]
fn an_unchanged_status_does_not_differ_even_later() {
    let mut cluster = RayCluster::test("rc");
    let first = desired_status(
        &cluster,
        &summary(MPhase::Ready, true),
        &LiveFacts::default(),
        now(10),
    );
    cluster.status = Some(first.clone());
    let later = desired_status(
        &cluster,
        &summary(MPhase::Ready, true),
        &LiveFacts::default(),
        now(99),
    );
    assert!(!differs(cluster.status.as_ref(), &later));
    assert_eq!(
        later.conditions[0].last_transition_time,
        first.conditions[0].last_transition_time
    );
}

#[test]
fn a_changed_condition_differs_and_gets_a_new_transition_time() {
    let mut cluster = RayCluster::test("rc");
    cluster.status = Some(desired_status(
        &cluster,
        &summary(MPhase::Scaling, false),
        &LiveFacts::default(),
        now(10),
    ));
    let next = desired_status(
        &cluster,
        &summary(MPhase::Scaling, true),
        &LiveFacts::default(),
        now(20),
    );
    assert!(differs(cluster.status.as_ref(), &next));
    assert_eq!(next.conditions[0].last_transition_time.0, now(20));
}

#[test]
fn fields_another_writer_set_are_not_compared_but_rayops_are() {
    let mut cluster = RayCluster::test("rc");
    let ours = desired_status(
        &cluster,
        &summary(MPhase::Ready, true),
        &LiveFacts::default(),
        now(10),
    );
    assert!(ours.reason.is_none());
    // Another writer's reason, which rayop's apply never touches.
    let mut live = ours.clone();
    live.reason = Some("set by someone else".into());
    cluster.status = Some(live.clone());
    assert!(!differs(Some(&live), &ours));
    // A value rayop sets still counts.
    let mut stale = live;
    stale.ready_worker_replicas = Some(7);
    assert!(differs(Some(&stale), &ours));
}

#[test]
fn no_live_status_always_differs() {
    let cluster = RayCluster::test("rc");
    let s = desired_status(
        &cluster,
        &summary(MPhase::Pending, false),
        &LiveFacts::default(),
        now(1),
    );
    assert!(differs(None, &s));
}

#[test]
fn a_written_status_read_back_does_not_differ() {
    // What the API server returns is the JSON we wrote; sub-second precision
    // or any lossy field would make every reconcile write again.
    let mut cluster =
        RayCluster::test("rc").with_group(group("small").with_replicas(2).bounds(1, 3));
    let mut s = summary(MPhase::Ready, true);
    s.phase_times
        .insert(MPhase::Scaling, Millis(1_700_000_000_123));
    let now = Timestamp::from_millisecond(1_700_000_100_456).unwrap();
    let written = desired_status(&cluster, &s, &LiveFacts::default(), now);
    let read_back: RayClusterStatus =
        serde_json::from_str(&serde_json::to_string(&written).unwrap()).unwrap();
    cluster.status = Some(read_back.clone());
    let again = desired_status(&cluster, &s, &LiveFacts::default(), now);
    assert!(
        !differs(Some(&read_back), &again),
        "{read_back:#?}\n!=\n{again:#?}"
    );
}

fn pod(node_type: &str, phase: &str) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.labels = Some(BTreeMap::from([(
        names::LABEL_NODE_TYPE.to_owned(),
        node_type.to_owned(),
    )]));
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        ..PodStatus::default()
    });
    pod
}

#[test]
fn available_workers_are_worker_pods_running_ready_or_not() {
    let cluster = RayCluster::test("rc").with_group(group("small").with_replicas(3));
    let pods = [
        pod("head", "Running"),
        pod("worker", "Running"),
        pod("worker", "Running"),
        pod("worker", "Pending"),
    ];
    let live = LiveFacts {
        pods: pods.iter().collect(),
        ..LiveFacts::default()
    };
    let s = desired_status(&cluster, &summary(MPhase::Scaling, false), &live, now(10));
    // One of the two Running workers is Ready (the summary says so).
    assert_eq!(s.ready_worker_replicas, Some(1));
    assert_eq!(s.available_worker_replicas, Some(2));
    // A counts-only change is compared, and paced as counts.
    let mut stale = s.clone();
    stale.available_worker_replicas = Some(1);
    assert!(differs(Some(&stale), &s));
    assert!(!pacing::is_milestone(Some(&stale), &s));
}

#[test]
fn desired_resources_come_from_the_spec_and_are_compared() {
    // Default templates: head 1 CPU 2Gi, each worker 1 CPU 1Gi.
    let mut cluster = RayCluster::test("rc").with_group(group("small").with_replicas(2));
    let s = desired_status(
        &cluster,
        &summary(MPhase::Ready, true),
        &LiveFacts::default(),
        now(10),
    );
    let text = |q: &Option<k8s_openapi::apimachinery::pkg::api::resource::Quantity>| {
        q.as_ref().map(|q| q.0.clone())
    };
    assert_eq!(text(&s.desired_cpu).as_deref(), Some("3"));
    assert_eq!(text(&s.desired_memory).as_deref(), Some("4Gi"));
    assert_eq!(text(&s.desired_gpu).as_deref(), Some("0"));
    assert_eq!(text(&s.desired_tpu).as_deref(), Some("0"));
    cluster.status = Some(s.clone());
    let mut stale = s.clone();
    stale.desired_tpu = None;
    assert!(differs(Some(&stale), &s));
    stale = s.clone();
    stale.desired_memory = Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(
        "3Gi".into(),
    ));
    assert!(differs(Some(&stale), &s));
}

#[test]
fn state_transition_times_stamp_each_new_state_once() {
    let mut cluster = RayCluster::test("rc");
    let provisioning = desired_status(
        &cluster,
        &summary(MPhase::Scaling, false),
        &LiveFacts::default(),
        now(10),
    );
    assert!(provisioning.state_transition_times.is_empty());
    cluster.status = Some(provisioning);
    let ready = desired_status(
        &cluster,
        &summary(MPhase::Ready, true),
        &LiveFacts::default(),
        now(20),
    );
    assert_eq!(ready.state, Some(ClusterState::Ready));
    assert_eq!(ready.state_transition_times["ready"].0, now(20));
    cluster.status = Some(ready.clone());
    // Still ready later: the time stays, and nothing differs.
    let later = desired_status(
        &cluster,
        &summary(MPhase::Ready, true),
        &LiveFacts::default(),
        now(90),
    );
    assert_eq!(later.state_transition_times["ready"].0, now(20));
    assert!(!differs(cluster.status.as_ref(), &later));
    // Suspended adds its own key and keeps the ready one.
    let suspended = desired_status(
        &cluster,
        &summary(MPhase::Suspended, true),
        &LiveFacts::default(),
        now(100),
    );
    assert_eq!(suspended.state, Some(ClusterState::Suspended));
    assert_eq!(suspended.state_transition_times["suspended"].0, now(100));
    assert_eq!(suspended.state_transition_times["ready"].0, now(20));
    assert!(pacing::is_milestone(cluster.status.as_ref(), &suspended));
}
