//! A pod named in `scaleStrategy.workersToDelete` while the group's count
//! does not go down (the Ray autoscaler replacing a worker it gave up on):
//! rayop deletes it and the workload replaces it, as KubeRay does. The
//! autoscaler will not scale again while a named pod exists, so leaving it
//! would stall autoscaling for good.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{Command, DeleteReason, Phase, Removal, Step};
use support::*;

/// The pods of each `DeletePods(NamedForRemoval)` in `step`, by name.
fn named_deletions(step: &Step) -> Vec<String> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            Command::DeletePods {
                reason: DeleteReason::NamedForRemoval,
                pods,
            } => Some(pods.iter().map(|p| format!("{}/{}", p.name, p.uid))),
            _ => None,
        })
        .flatten()
        .collect()
}

fn notices(step: &Step) -> usize {
    step.commands
        .iter()
        .filter(|c| matches!(c, Command::Announce(n) if n.reason == "DeletingNamedWorkers"))
        .count()
}

/// The seed's group under the autoscaler, removed as `removal` allows, with
/// `c-small-1` named while replicas stay at 2.
fn named_at_same_count(removal: Removal, autoscaled: bool) -> rayop_machines::DesiredSpec {
    let mut s = spec();
    s.groups[0].removal = removal;
    s.groups[0].autoscaled = autoscaled;
    s.groups[0].workers_to_delete = vec!["c-small-1".into()];
    s
}

#[test]
fn a_named_pod_is_deleted_when_the_count_stays_and_announced_once() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = named_at_same_count(Removal::MarkedFirst, true);
    let world = converged(&s);

    let step = m.step(&observed(last.plus(1000), &s, &world));
    assert_eq!(named_deletions(&step), ["c-small-1/small-uid-1"]);
    assert_eq!(notices(&step), 1, "{:?}", step.commands);
    assert!(
        !step
            .commands
            .iter()
            .any(|c| matches!(c, Command::EnsureGroup { .. })),
        "the count is not touched: {:?}",
        step.commands
    );
    assert_eq!(m.phase(), Phase::Scaling, "a worker is being replaced");

    // The world lags: the delete repeats (level-triggered), the Event does not.
    let step = m.step(&observed(last.plus(2000), &s, &world));
    assert_eq!(named_deletions(&step), ["c-small-1/small-uid-1"]);
    assert_eq!(notices(&step), 0);

    // Terminating: nothing more to delete; the replacement makes it Ready.
    let mut going = world.clone();
    going.groups[0].pods[1].terminating = true;
    let step = m.step(&observed(last.plus(3000), &s, &going));
    assert!(named_deletions(&step).is_empty(), "{:?}", step.commands);
    let mut replaced = converged(&s);
    replaced.groups[0].pods[1] = pod("c-small-x7k2p", "small-uid-new", true, last);
    let step = m.step(&observed(last.plus(4000), &s, &replaced));
    assert!(named_deletions(&step).is_empty());
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn a_named_pod_goes_on_a_scale_up_too() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = named_at_same_count(Removal::MarkedFirst, true);
    s.groups[0].replicas = 3;
    let step = m.step(&observed(last.plus(1000), &s, &converged(&spec())));
    assert_eq!(named_deletions(&step), ["c-small-1/small-uid-1"]);
    assert!(
        step.commands.iter().any(|c| matches!(
            c,
            Command::EnsureGroup {
                replicas: Some(3),
                ..
            }
        )),
        "{:?}",
        step.commands
    );
}

#[test]
fn a_recreated_statefulset_pod_is_deleted_again_while_the_autoscaler_names_it() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = named_at_same_count(Removal::HighestOrdinals, true);
    let world = converged(&s);
    let step = m.step(&observed(last.plus(1000), &s, &world));
    assert_eq!(named_deletions(&step), ["c-small-1/small-uid-1"]);

    // The StatefulSet brought it back under its name before the autoscaler
    // looked: it is still named, so it goes again, and is announced again.
    let mut back = world.clone();
    back.groups[0].pods[1].uid = "small-uid-1b".into();
    let step = m.step(&observed(last.plus(2000), &s, &back));
    assert_eq!(named_deletions(&step), ["c-small-1/small-uid-1b"]);
    assert_eq!(notices(&step), 1);

    // The autoscaler saw it gone and cleared the list: the new pod stays.
    let mut cleared = s.clone();
    cleared.groups[0].workers_to_delete.clear();
    let step = m.step(&observed(last.plus(3000), &cleared, &back));
    assert!(named_deletions(&step).is_empty());
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn without_the_autoscaler_a_statefulset_pod_is_not_restarted_for_a_name() {
    // Nobody would clear the list, and the StatefulSet recreates the pod
    // under its name: deleting it would restart it for ever.
    let (mut m, last) = drive_to(Phase::Ready);
    let s = named_at_same_count(Removal::HighestOrdinals, false);
    let step = m.step(&observed(last.plus(1000), &s, &converged(&s)));
    assert!(named_deletions(&step).is_empty(), "{:?}", step.commands);
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn a_user_named_deployment_pod_is_replaced_once() {
    // Without the autoscaler, on a Deployment: the replacement has a new
    // name, so a name left in the list deletes nothing more.
    let (mut m, last) = drive_to(Phase::Ready);
    let s = named_at_same_count(Removal::MarkedFirst, false);
    let world = converged(&s);
    let step = m.step(&observed(last.plus(1000), &s, &world));
    assert_eq!(named_deletions(&step), ["c-small-1/small-uid-1"]);
    let mut replaced = world;
    replaced.groups[0].pods[1] = pod("c-small-q9z4w", "small-uid-new", true, last);
    let step = m.step(&observed(last.plus(2000), &s, &replaced));
    assert!(named_deletions(&step).is_empty());
    assert_eq!(m.phase(), Phase::Ready);
}
