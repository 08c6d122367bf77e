//! Narrative tests of the machine's behaviour, one story each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{
    ClusterMachine, Command, CommandKind, DeleteReason, Event, Input, Observation, Phase, PodPhase,
    Severity, backoff, status,
};
use support::*;

fn phases(m: &mut ClusterMachine, events: &[Event]) -> Vec<Phase> {
    events.iter().map(|e| m.step(e).to).collect()
}

fn ensure_group_replicas(commands: &[Command]) -> Vec<(String, i32)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::EnsureGroup {
                group,
                replicas: Some(replicas),
            } => Some((group.clone(), *replicas)),
            _ => None,
        })
        .collect()
}

fn status_of(commands: &[Command]) -> Option<&rayop_machines::StatusSummary> {
    commands.iter().rev().find_map(|c| match c {
        Command::PublishStatus(s) => Some(s),
        _ => None,
    })
}

#[test]
fn seed_walks_pending_headstarting_scaling_ready() {
    let s = spec();
    let mut m = ClusterMachine::new();
    let path = phases(
        &mut m,
        &[
            observed(at(1), &s, &Observation::default()),
            observed(at(2), &s, &applied(&s)),
            observed(at(3), &s, &with_head(applied(&s), "head-1")),
            observed(
                at(4),
                &s,
                &with_workers(with_head(applied(&s), "head-1"), "small", 1, T0),
            ),
            observed(at(5), &s, &converged(&s)),
        ],
    );
    use Phase::*;
    assert_eq!(
        path,
        vec![HeadStarting, HeadStarting, Scaling, Scaling, Ready]
    );
}

#[test]
fn workers_are_created_together_with_the_head() {
    let s = spec();
    let step = ClusterMachine::new().step(&observed(at(1), &s, &Observation::default()));
    assert!(step.commands.contains(&Command::EnsureHead { replicas: 1 }));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 2)]
    );
}

#[test]
fn steady_state_emits_nothing() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    for i in 1..20 {
        let step = m.step(&observed(last.plus(i * 1_000), &s, &converged(&s)));
        assert!(step.commands.is_empty(), "step {i}: {:?}", step.commands);
    }
}

#[test]
fn scale_up_then_down_follows_replicas() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.groups[0].replicas = 3;
    let step = m.step(&observed(last.plus(1_000), &s, &converged(&spec())));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 3)]
    );
    assert_eq!(step.to, Phase::Scaling);
    let step = m.step(&observed(last.plus(2_000), &s, &converged(&s)));
    assert_eq!(step.to, Phase::Ready);

    let mut down = spec();
    down.groups[0].replicas = 1;
    let step = m.step(&observed(last.plus(3_000), &down, &converged(&s)));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 1)]
    );
    let step = m.step(&observed(last.plus(4_000), &down, &converged(&down)));
    assert_eq!(step.to, Phase::Ready);
}

#[test]
fn replicas_above_max_are_clamped_and_reported() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.groups[0].replicas = 10;
    let step = m.step(&observed(last.plus(1_000), &s, &converged(&spec())));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 3)]
    );
    let summary = status_of(&step.commands).expect("status published");
    assert!(summary.groups[0].clamped);
    assert_eq!(summary.groups[0].requested, 10);
    assert!(
        summary
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("ReplicasClamped")
    );
    assert!(step.commands.iter().any(|c| matches!(
        c,
        Command::Announce(n) if n.reason == "ReplicasClamped" && n.severity == Severity::Warning
    )));
}

#[test]
fn replicas_below_min_are_clamped_up() {
    let mut s = spec();
    s.groups[0].replicas = 0;
    let step = ClusterMachine::new().step(&observed(at(1), &s, &Observation::default()));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 1)]
    );
}

#[test]
fn num_of_hosts_multiplies_pods() {
    let mut s = spec();
    s.groups[0].num_of_hosts = 4;
    let step = ClusterMachine::new().step(&observed(at(1), &s, &Observation::default()));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 8)]
    );
}

#[test]
fn template_change_rolls_the_group_and_waits_for_rollout() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.groups[0].hash = "small-v2".into();
    let step = m.step(&observed(last.plus(1_000), &s, &converged(&spec())));
    assert_eq!(step.to, Phase::Scaling);
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 2)]
    );
    let mut rolling = converged(&s);
    rolling.groups[0].rolled_out = false;
    assert_eq!(
        m.step(&observed(last.plus(2_000), &s, &rolling)).to,
        Phase::Scaling
    );
    assert_eq!(
        m.step(&observed(last.plus(3_000), &s, &converged(&s))).to,
        Phase::Ready
    );
}

#[test]
fn head_template_change_reapplies_the_head() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.head_hash = "head-v2".into();
    let step = m.step(&observed(last.plus(1_000), &s, &converged(&spec())));
    assert!(step.commands.contains(&Command::EnsureHead { replicas: 1 }));
    assert_eq!(step.to, Phase::Scaling);
}

#[test]
fn head_loss_recovers_and_restarts_only_old_workers() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    let mut lost = converged(&s);
    lost.head.pod = None;
    let lost_at = last.plus(1_000);
    assert_eq!(m.step(&observed(lost_at, &s, &lost)).to, Phase::Recovering);

    // The head comes back; one worker was created after the loss and is kept.
    let mut back = with_head(converged(&s), "head-2");
    back.groups[0].pods[1].created = lost_at.plus(500);
    back.groups[0].pods[1].uid = "fresh".into();
    let step = m.step(&observed(last.plus(5_000), &s, &back));
    assert_eq!(step.to, Phase::Scaling);
    let deleted: Vec<_> = step
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::DeletePods {
                reason: DeleteReason::HeadRestarted,
                pods,
            } => Some(pods.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].uid, "small-uid-0");
}

#[test]
fn head_loss_with_gcs_fault_tolerance_keeps_workers() {
    let mut s = spec();
    s.gcs_fault_tolerance = true;
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &Observation::default()));
    assert_eq!(
        m.step(&observed(at(2), &s, &converged(&s))).to,
        Phase::Scaling
    );
    assert_eq!(
        m.step(&observed(at(2), &s, &converged(&s))).to,
        Phase::Ready
    );
    let mut lost = converged(&s);
    lost.head.pod.as_mut().unwrap().ready = false;
    assert_eq!(m.step(&observed(at(3), &s, &lost)).to, Phase::Recovering);
    let step = m.step(&observed(at(9), &s, &with_head(converged(&s), "head-2")));
    assert_eq!(step.to, Phase::Ready);
    assert!(
        !step
            .commands
            .iter()
            .any(|c| matches!(c, Command::DeletePods { .. }))
    );
}

#[test]
fn a_head_container_restart_counts_as_head_loss() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    let mut restarted = converged(&s);
    restarted.head.pod.as_mut().unwrap().restarts = 1;
    assert_eq!(
        m.step(&observed(last.plus(1_000), &s, &restarted)).to,
        Phase::Recovering
    );
}

#[test]
fn worker_loss_goes_to_scaling_and_back_without_commands_to_the_workload() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    let mut world = converged(&s);
    world.groups[0].pods.pop();
    let step = m.step(&observed(last.plus(1_000), &s, &world));
    assert_eq!(step.to, Phase::Scaling);
    assert!(ensure_group_replicas(&step.commands).is_empty());
    assert_eq!(
        m.step(&observed(last.plus(2_000), &s, &converged(&s))).to,
        Phase::Ready
    );
}

#[test]
fn finished_worker_pods_are_deleted_by_uid() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    let mut world = converged(&s);
    world.groups[0].pods[0].phase = PodPhase::Failed;
    let step = m.step(&observed(last.plus(1_000), &s, &world));
    assert!(step.commands.iter().any(|c| matches!(
        c,
        Command::DeletePods { reason: DeleteReason::WorkerPodFinished, pods }
            if pods.len() == 1 && pods[0].uid == "small-uid-0"
    )));
}

#[test]
fn failed_head_is_recreated_with_doubling_backoff_never_in_a_tight_loop() {
    let s = spec();
    let mut m = ClusterMachine::new();
    m.step(&observed(at(0), &s, &Observation::default()));
    let failed = |uid: &str| {
        let mut world = applied(&s);
        let mut head = pod("c-head-0", uid, false, T0);
        head.phase = PodPhase::Failed;
        world.head.pod = Some(head);
        world
    };
    let deletes = |step: &rayop_machines::Step| {
        step.commands
            .iter()
            .filter(|c| {
                matches!(
                    c,
                    Command::DeletePods {
                        reason: DeleteReason::HeadPodFinished,
                        ..
                    }
                )
            })
            .count()
    };
    // Failure 1 at t=1s: deleted at once; retry window 10 s.
    assert_eq!(deletes(&m.step(&observed(at(1), &s, &failed("a")))), 1);
    // A new incarnation fails at t=5s: inside the window, not deleted.
    assert_eq!(deletes(&m.step(&observed(at(5), &s, &failed("b")))), 0);
    // At t=11s the window has passed: deleted; next window 20 s.
    assert_eq!(deletes(&m.step(&observed(at(11), &s, &failed("b")))), 1);
    assert_eq!(deletes(&m.step(&observed(at(30), &s, &failed("c")))), 0);
    assert_eq!(deletes(&m.step(&observed(at(31), &s, &failed("c")))), 1);
    assert_eq!(m.cluster().head_failures, 3);
    assert_eq!(m.next_wake(), Some(at(31).plus(backoff::delay_after(3))));
}

#[test]
fn backoff_resets_after_a_long_stable_ready() {
    let s = spec();
    let mut m = ClusterMachine::new();
    m.step(&observed(at(0), &s, &Observation::default()));
    let mut world = applied(&s);
    let mut head = pod("c-head-0", "a", false, T0);
    head.phase = PodPhase::Failed;
    world.head.pod = Some(head);
    m.step(&observed(at(1), &s, &world));
    assert_eq!(m.cluster().head_failures, 1);
    m.step(&observed(at(19), &s, &converged(&s)));
    m.step(&observed(at(20), &s, &converged(&s)));
    assert_eq!(m.phase(), Phase::Ready);
    m.step(&Event {
        at: at(20 + 599),
        input: Input::Tick,
    });
    assert_eq!(m.cluster().head_failures, 1, "not yet stable for 10 min");
    m.step(&Event {
        at: at(20 + 600),
        input: Input::Tick,
    });
    assert_eq!(m.cluster().head_failures, 0);
}

#[test]
fn a_head_stuck_starting_is_reported_once() {
    let (mut m, last) = drive_to(Phase::HeadStarting);
    let tick = |ms| Event {
        at: last.plus(ms),
        input: Input::Tick,
    };
    assert!(
        m.step(&tick(backoff::STUCK_AFTER_MS - 1))
            .commands
            .is_empty()
    );
    assert_eq!(m.step(&tick(backoff::STUCK_AFTER_MS)).commands.len(), 1);
    assert!(
        m.step(&tick(backoff::STUCK_AFTER_MS * 2))
            .commands
            .is_empty()
    );
}

#[test]
fn invalid_spec_stays_pending_and_is_announced_once_per_generation() {
    let bad = invalid(spec());
    let mut m = ClusterMachine::new();
    let first = m.step(&observed(at(1), &bad, &Observation::default()));
    assert_eq!(first.to, Phase::Pending);
    assert!(
        first
            .commands
            .iter()
            .all(|c| matches!(c, Command::Announce(_) | Command::PublishStatus(_)))
    );
    let summary = status_of(&first.commands).unwrap();
    let cond = summary.condition(status::INVALID_SPEC).unwrap();
    assert!(cond.status);
    assert!(
        cond.message
            .contains("spec.workerGroupSpecs[0].minReplicas")
    );
    let again = m.step(&observed(at(2), &bad, &Observation::default()));
    assert!(again.commands.is_empty(), "{:?}", again.commands);
    let mut newer = bad.clone();
    newer.generation += 1;
    let third = m.step(&observed(at(3), &newer, &Observation::default()));
    assert!(
        third
            .commands
            .iter()
            .any(|c| matches!(c, Command::Announce(n) if n.severity == Severity::Warning))
    );
}

#[test]
fn an_invalid_edit_of_a_running_cluster_changes_no_object() {
    let (mut m, last) = drive_to(Phase::Ready);
    let step = m.step(&observed(
        last.plus(1_000),
        &invalid(spec()),
        &Observation::default(),
    ));
    assert_eq!(step.to, Phase::Pending);
    assert!(!step.commands.iter().any(|c| matches!(
        c,
        Command::EnsureHead { .. }
            | Command::EnsureGroup { .. }
            | Command::RemoveGroup { .. }
            | Command::DeletePods { .. }
    )));
    // Fixing the spec finds everything still converged.
    assert_eq!(
        m.step(&observed(last.plus(2_000), &spec(), &converged(&spec())))
            .to,
        Phase::Ready
    );
}

#[test]
fn a_removed_group_is_removed() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.groups.clear();
    let step = m.step(&observed(last.plus(1_000), &s, &converged(&spec())));
    assert!(step.commands.contains(&Command::RemoveGroup {
        group: "small".into()
    }));
    assert_eq!(step.to, Phase::Scaling);
}

#[test]
fn suspend_holds_everything_at_zero_and_resume_restores() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.suspend = true;
    let step = m.step(&observed(last.plus(1_000), &s, &converged(&spec())));
    assert_eq!(step.to, Phase::Suspended);
    assert!(step.commands.contains(&Command::EnsureHead { replicas: 0 }));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 0)]
    );
    let summary = status_of(&step.commands).unwrap();
    assert!(
        summary
            .condition(status::SUSPENDED)
            .is_some_and(|c| c.status)
    );
    let step = m.step(&observed(last.plus(2_000), &spec(), &applied(&s)));
    assert_eq!(step.to, Phase::HeadStarting);
    assert!(step.commands.contains(&Command::EnsureHead { replicas: 1 }));
}

#[test]
fn deletion_is_terminal() {
    let (mut m, last) = drive_to(Phase::Ready);
    let step = m.step(&Event {
        at: last.plus(1),
        input: Input::Deleted,
    });
    assert!(step.commands.contains(&Command::Forget));
    for e in [
        observed(last.plus(2), &spec(), &Observation::default()),
        Event {
            at: last.plus(3),
            input: Input::Tick,
        },
        Event {
            at: last.plus(4),
            input: Input::Deleted,
        },
    ] {
        let step = m.step(&e);
        assert_eq!(step.to, Phase::Deleted);
        assert!(step.commands.is_empty());
    }
}

#[test]
fn command_failure_sets_replica_failure_until_the_objects_are_in_sync() {
    let (mut m, last) = drive_to(Phase::Scaling);
    let step = m.step(&Event {
        at: last.plus(1),
        input: Input::CommandFailed {
            command: CommandKind::EnsureGroup,
            reason: "FailedApplyWorkers".into(),
            message: "statefulsets.apps is forbidden".into(),
        },
    });
    let summary = status_of(&step.commands).unwrap();
    let cond = summary.condition(status::REPLICA_FAILURE).unwrap();
    assert_eq!(cond.reason, "FailedApplyWorkers");
    // The same failure again is not announced twice.
    let again = m.step(&Event {
        at: last.plus(2),
        input: Input::CommandFailed {
            command: CommandKind::EnsureGroup,
            reason: "FailedApplyWorkers".into(),
            message: "statefulsets.apps is forbidden".into(),
        },
    });
    assert!(again.commands.is_empty());
    let s = spec();
    let step = m.step(&observed(last.plus(3), &s, &converged(&s)));
    let summary = status_of(&step.commands).unwrap();
    assert!(summary.condition(status::REPLICA_FAILURE).is_none());
}

#[test]
fn a_fresh_machine_adopts_a_running_cluster_without_writes() {
    // The journal was lost: a new machine sees a converged cluster.
    let s = spec();
    let step = ClusterMachine::new().step(&observed(at(1), &s, &converged(&s)));
    assert_eq!(step.to, Phase::Ready);
    assert!(
        step.commands
            .iter()
            .all(|c| matches!(c, Command::Announce(_) | Command::PublishStatus(_)))
    );
}

#[test]
fn phase_times_record_each_entry() {
    let s = spec();
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &Observation::default()));
    m.step(&observed(at(4), &s, &converged(&s)));
    let step = m.step(&observed(at(7), &s, &converged(&s)));
    let summary = status_of(&step.commands).unwrap();
    assert_eq!(summary.phase_times.get(&Phase::Pending), Some(&at(1)));
    assert_eq!(summary.phase_times.get(&Phase::HeadStarting), Some(&at(1)));
    assert_eq!(summary.phase_times.get(&Phase::Scaling), Some(&at(4)));
    assert_eq!(summary.phase_times.get(&Phase::Ready), Some(&at(7)));
    assert_eq!(summary.ready_workers(), 2);
    assert_eq!(summary.desired_workers(), 2);
}

#[test]
fn transitions_are_announced_as_normal_events() {
    let s = spec();
    let step = ClusterMachine::new().step(&observed(at(1), &s, &Observation::default()));
    assert!(step.commands.iter().any(|c| matches!(
        c,
        Command::Announce(n) if n.reason == "HeadStarting" && n.severity == Severity::Normal
    )));
}

fn autoscaled_spec(removal: rayop_machines::Removal) -> rayop_machines::DesiredSpec {
    let mut s = spec();
    s.groups[0].replicas = 3;
    s.groups[0].autoscaled = true;
    s.groups[0].removal = removal;
    s
}

fn three_workers(s: &rayop_machines::DesiredSpec) -> Observation {
    with_workers(with_head(applied(s), "head-1"), "small", 3, T0)
}

#[test]
fn a_deployment_group_marks_the_chosen_pod_then_scales_down() {
    use rayop_machines::Removal;
    let mut s = autoscaled_spec(Removal::MarkedFirst);
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &three_workers(&s)));
    // The autoscaler: replicas 2, delete the middle pod.
    s.groups[0].replicas = 2;
    s.groups[0].workers_to_delete = vec!["c-small-1".into()];
    let world = three_workers(&autoscaled_spec(Removal::MarkedFirst));
    let step = m.step(&observed(at(2), &s, &world));
    assert!(step.commands.iter().any(|c| matches!(
        c,
        Command::MarkPods { pods, .. } if pods.len() == 1 && pods[0].name == "c-small-1"
    )));
    assert!(
        ensure_group_replicas(&step.commands).is_empty(),
        "held at 3 until marked"
    );
    // Marked: now the replicas go down.
    let mut marked = world.clone();
    marked.groups[0].pods[1].marked = true;
    let step = m.step(&observed(at(3), &s, &marked));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 2)]
    );
    assert!(
        !step
            .commands
            .iter()
            .any(|c| matches!(c, Command::MarkPods { .. }))
    );
}

#[test]
fn a_statefulset_group_refuses_to_remove_a_middle_pod() {
    use rayop_machines::Removal;
    let mut s = autoscaled_spec(Removal::HighestOrdinals);
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &three_workers(&s)));
    s.groups[0].replicas = 2;
    s.groups[0].workers_to_delete = vec!["c-small-1".into()];
    let step = m.step(&observed(
        at(2),
        &s,
        &three_workers(&autoscaled_spec(Removal::HighestOrdinals)),
    ));
    assert!(
        ensure_group_replicas(&step.commands).is_empty(),
        "no other pod is removed instead"
    );
    assert!(step.commands.iter().any(|c| matches!(
        c,
        Command::Announce(n) if n.reason == "ChosenWorkerNotRemovable" && n.severity == Severity::Warning
    )));
    // The highest ordinal is fine.
    s.groups[0].workers_to_delete = vec!["c-small-2".into()];
    let step = m.step(&observed(
        at(3),
        &s,
        &three_workers(&autoscaled_spec(Removal::HighestOrdinals)),
    ));
    assert_eq!(
        ensure_group_replicas(&step.commands),
        vec![("small".into(), 2)]
    );
}

#[test]
fn under_autoscaling_a_scale_down_without_names_removes_nothing() {
    use rayop_machines::Removal;
    let mut s = autoscaled_spec(Removal::MarkedFirst);
    let mut m = ClusterMachine::new();
    m.step(&observed(at(1), &s, &three_workers(&s)));
    s.groups[0].replicas = 1;
    let step = m.step(&observed(
        at(2),
        &s,
        &three_workers(&autoscaled_spec(Removal::MarkedFirst)),
    ));
    assert!(ensure_group_replicas(&step.commands).is_empty());
    let summary = status_of(&step.commands).unwrap();
    let held = summary.groups[0].held.as_ref().unwrap();
    assert_eq!(held.reason, rayop_machines::HoldReason::NoRandomScaleDown);
    // Journaled as the text it always was.
    let text = serde_json::to_value(held).unwrap();
    assert!(text.as_str().unwrap().starts_with("NoRandomScaleDown: "));
    let back: rayop_machines::Hold = serde_json::from_value(text).unwrap();
    assert_eq!(&back, held);
}

#[test]
fn an_hpa_owned_group_never_gets_replicas_from_rayop() {
    let mut s = spec();
    s.groups[0].external_replicas = true;
    let step = ClusterMachine::new().step(&observed(at(1), &s, &Observation::default()));
    assert!(step.commands.contains(&Command::EnsureGroup {
        group: "small".into(),
        replicas: None
    }));
    // Whatever the HPA chose is in sync.
    let mut world = with_workers(with_head(applied(&s), "head-1"), "small", 5, T0);
    world.groups[0].applied.as_mut().unwrap().replicas = 5;
    let mut m = ClusterMachine::new();
    let step = m.step(&observed(at(2), &s, &world));
    assert!(
        !step
            .commands
            .iter()
            .any(|c| matches!(c, Command::EnsureGroup { .. }))
    );
    assert_eq!(step.to, Phase::Ready);
}
