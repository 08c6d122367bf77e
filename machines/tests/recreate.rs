//! `upgradeStrategy: Recreate` on a StatefulSet group: once the group's
//! objects hold the new template, every pod still on an older revision is
//! deleted in one decision, the cluster is not Ready until they are
//! replaced, and without the strategy outdated pods are left alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{Command, DeleteReason, Phase};
use support::*;

fn deletions(step: &rayop_machines::Step) -> Vec<Vec<String>> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            Command::DeletePods {
                reason: DeleteReason::TemplateChanged,
                pods,
            } => Some(pods.iter().map(|p| p.name.clone()).collect()),
            _ => None,
        })
        .collect()
}

#[test]
fn outdated_pods_are_deleted_together_once_the_template_is_applied() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.groups[0].replace_outdated = true;
    let mut world = converged(&s);
    for pod in &mut world.groups[0].pods {
        pod.outdated = true;
    }

    let step = m.step(&observed(last.plus(1000), &s, &world));
    let deleted = deletions(&step);
    assert_eq!(deleted.len(), 1, "{:?}", step.commands);
    assert_eq!(deleted[0].len(), world.groups[0].pods.len());
    assert_ne!(m.phase(), Phase::Ready, "outdated pods are not converged");
    assert!(
        step.commands
            .iter()
            .any(|c| matches!(c, Command::Announce(n) if n.reason == "RecreatingPods")),
        "{:?}",
        step.commands
    );

    // Terminating pods are not deleted again.
    for pod in &mut world.groups[0].pods {
        pod.terminating = true;
    }
    let step = m.step(&observed(last.plus(2000), &s, &world));
    assert!(deletions(&step).is_empty(), "{:?}", step.commands);

    // Replaced: Ready again, nothing more to delete.
    let step = m.step(&observed(last.plus(3000), &s, &converged(&s)));
    assert!(deletions(&step).is_empty());
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn nothing_is_deleted_before_the_new_template_is_applied_or_without_recreate() {
    let (mut m, last) = drive_to(Phase::Ready);
    let mut s = spec();
    s.groups[0].replace_outdated = true;
    let mut world = converged(&s);
    for pod in &mut world.groups[0].pods {
        pod.outdated = true;
    }
    // The workload still has the old template.
    world.groups[0].applied.as_mut().unwrap().hash = "old".into();
    let step = m.step(&observed(last.plus(1000), &s, &world));
    assert!(deletions(&step).is_empty(), "{:?}", step.commands);

    let (mut m, last) = drive_to(Phase::Ready);
    let s = spec();
    let mut world = converged(&s);
    for pod in &mut world.groups[0].pods {
        pod.outdated = true;
    }
    let step = m.step(&observed(last.plus(1000), &s, &world));
    assert!(deletions(&step).is_empty(), "{:?}", step.commands);
    assert_eq!(m.phase(), Phase::Ready);
}
