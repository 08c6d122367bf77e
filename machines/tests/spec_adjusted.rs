//! The non-blocking `SpecAdjusted` condition: what the operator changes in a
//! spec on its own is published while it lasts, announced once per change,
//! and never stops the cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{ClusterMachine, Command, Phase, Severity, SpecProblem, Step, status};
use support::*;

fn restart_policy() -> SpecProblem {
    SpecProblem::new(
        "spec.headGroupSpec.template.spec.restartPolicy",
        "\"Never\" is ignored",
    )
}

fn warnings(step: &Step) -> Vec<String> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            Command::Announce(n) if n.severity == Severity::Warning => Some(n.reason.clone()),
            _ => None,
        })
        .collect()
}

fn adjusted_condition(m: &ClusterMachine) -> Option<status::ConditionSummary> {
    m.cluster()
        .last_status
        .as_ref()
        .and_then(|s| s.condition(status::SPEC_ADJUSTED).cloned())
}

#[test]
fn an_adjusted_spec_runs_says_so_once_and_forgets_when_fixed() {
    let mut spec = spec();
    spec.adjustments = vec![restart_policy()];
    let mut m = ClusterMachine::new();
    let first = m.step(&observed(at(0), &spec, &Default::default()));
    assert_eq!(warnings(&first), [status::SPEC_ADJUSTED]);
    let condition = adjusted_condition(&m).expect("a SpecAdjusted condition");
    assert!(condition.status);
    assert!(
        condition
            .message
            .starts_with("spec.headGroupSpec.template.spec.restartPolicy: ")
    );
    // Not blocking: the cluster converges to Ready with the condition kept,
    // and the Warning is not repeated.
    let world = converged(&spec);
    let mut later = Vec::new();
    for s in 1..4 {
        later.extend(warnings(&m.step(&observed(at(s), &spec, &world))));
    }
    assert_eq!(m.phase(), Phase::Ready);
    assert!(later.is_empty(), "{later:?}");
    assert!(adjusted_condition(&m).is_some());
    // Fixed: the condition goes, and nothing is announced.
    spec.adjustments.clear();
    spec.generation += 1;
    let fixed = m.step(&observed(at(5), &spec, &world));
    assert!(warnings(&fixed).is_empty());
    assert_eq!(adjusted_condition(&m), None);
}

#[test]
fn an_invalid_spec_keeps_its_adjustments_in_view() {
    let mut spec = invalid(spec());
    spec.adjustments = vec![restart_policy()];
    let mut m = ClusterMachine::new();
    m.step(&observed(at(0), &spec, &Default::default()));
    assert_eq!(m.phase(), Phase::Pending);
    let s = m.cluster().last_status.clone().unwrap();
    assert!(s.condition(status::INVALID_SPEC).unwrap().status);
    assert!(s.condition(status::SPEC_ADJUSTED).unwrap().status);
}
