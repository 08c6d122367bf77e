//! Hand edits (drift): a set whose fields someone else changed is not in
//! sync even when its spec hash and replicas match, so the machine emits the
//! Ensure that writes it back, with one Warning saying what is reverted; once
//! the edit is gone the machine is back to zero commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{Command, CommandKind, DriftedField, ObjectName, Phase};
use support::*;

const EDIT: &str = "StatefulSet c-small: spec.template.spec.containers[name=ray-worker].image (changed by kubectl-set)";

fn edit(kind: &str, name: &str, field: &str, manager: &str) -> DriftedField {
    DriftedField {
        kind: kind.into(),
        name: name.into(),
        field: field.into(),
        manager: manager.into(),
    }
}

fn image_edit() -> DriftedField {
    edit(
        "StatefulSet",
        "c-small",
        "spec.template.spec.containers[name=ray-worker].image",
        "kubectl-set",
    )
}

fn reverted(step: &rayop_machines::Step) -> Vec<String> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            Command::Announce(n) if n.reason == "DriftReverted" => Some(n.message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_hand_edit_of_a_ready_groups_workload_is_written_back_with_a_warning() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    let mut world = converged(&s);
    world.groups[0]
        .applied
        .as_mut()
        .unwrap()
        .drifted
        .push(image_edit());

    let step = m.step(&observed(last.plus(1000), &s, &world));
    let messages = reverted(&step);
    assert_eq!(messages.len(), 1, "{:?}", step.commands);
    assert!(
        messages[0].contains("worker group small"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains(EDIT), "{}", messages[0]);
    assert!(
        step.commands.iter().any(|c| matches!(
            c,
            Command::EnsureGroup { group, replicas: Some(2) } if group == "small"
        )),
        "{:?}",
        step.commands
    );
    assert!(!kinds(&step).contains(&CommandKind::EnsureHead));

    // The revert landed: nothing more to do.
    let step = m.step(&observed(last.plus(2000), &s, &converged(&s)));
    assert!(reverted(&step).is_empty());
    assert!(!kinds(&step).contains(&CommandKind::EnsureGroup));
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn a_hand_edit_of_the_heads_objects_is_written_back() {
    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    let mut world = converged(&s);
    let drifted = &mut world.head.applied.as_mut().unwrap().drifted;
    drifted.push(edit("Role", "c", "rules", "kubectl-edit"));
    drifted.push(edit(
        "Service",
        "c-head-svc",
        "spec.selector",
        "kubectl-patch",
    ));
    drifted.push(edit("Service", "c-head-svc", "spec.ports", "kubectl-patch"));
    let step = m.step(&observed(last.plus(1000), &s, &world));
    // One Warning per object, each about it, so none folds into another.
    let notices: Vec<_> = step
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Announce(n) if n.reason == "DriftReverted" => Some(n.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(
        notices[0].related,
        Some(ObjectName {
            kind: "Role".into(),
            name: "c".into()
        })
    );
    assert!(notices[0].message.contains("the head's objects"));
    assert!(
        notices[1]
            .message
            .ends_with("Service c-head-svc: spec.selector (changed by kubectl-patch); spec.ports (changed by kubectl-patch)"),
        "{}",
        notices[1].message
    );
    assert!(kinds(&step).contains(&CommandKind::EnsureHead));
}

#[test]
fn drift_is_journaled_only_when_there_is_some() {
    let mut applied = rayop_machines::Applied::new("h", 1);
    assert_eq!(
        serde_json::to_string(&applied).unwrap(),
        r#"{"hash":"h","replicas":1}"#
    );
    applied.drifted.push(image_edit());
    let text = serde_json::to_string(&applied).unwrap();
    assert!(text.contains("drifted"));
    let back: rayop_machines::Applied = serde_json::from_str(&text).unwrap();
    assert_eq!(back, applied);
}
