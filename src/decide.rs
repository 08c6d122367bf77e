//! Decide: the RayCluster, its desired objects and the observation become one
//! machine [`Event`]; the machine answers with a [`Step`].
//!
//! Invariants:
//! - The [`DesiredSpec`] given to the machine is a pure function of the
//!   RayCluster object and the built objects' hashes, so the journal records
//!   exactly what the decision was based on.
//! - A spec that fails validation, or cannot be built, reaches the machine as
//!   problems naming their fields; the machine then changes no object.
//! - What rayop changes in a valid spec on its own (an ignored
//!   `restartPolicy`, an unset `maxReplicas` capped at the group limit)
//!   reaches it as adjustments naming their fields, for the non-blocking
//!   `SpecAdjusted` condition. A group's `max` is the capped one.

use rayop_machines::{
    ClusterMachine, DesiredSpec, Event, GroupSpec, Input, Machine, Millis, Observation, Removal,
    SpecProblem, Step,
};

use crate::{
    build::update_strategy,
    crd::{RayCluster, gcs, limits, validation, worker_group::WorkloadKind},
    desired::DesiredObjects,
};

/// The spec as the machine sees it. `desired` is `None` when the objects
/// could not be built; `build_problems` then says why. `head_stuck_after`
/// is the operator's stuck-head window, when not the machine's default.
#[must_use]
pub fn desired_spec(
    cluster: &RayCluster,
    desired: Option<&DesiredObjects>,
    build_problems: &[SpecProblem],
    head_stuck_after: Option<std::time::Duration>,
) -> DesiredSpec {
    let spec = &cluster.spec;
    let mut problems: Vec<SpecProblem> = validation::cluster_problems(cluster);
    problems.extend(build_problems.iter().cloned());
    DesiredSpec {
        generation: cluster.metadata.generation.unwrap_or(0),
        problems,
        adjustments: validation::adjustments(spec),
        suspend: spec.suspended(),
        gcs_fault_tolerance: gcs::ft_enabled(
            cluster.metadata.annotations.as_ref(),
            spec.gcs_fault_tolerance_options.as_ref(),
        ),
        redis_cleanup: false,
        head_hash: desired.map(|d| d.head.hash.clone()).unwrap_or_default(),
        groups: spec
            .worker_group_specs
            .iter()
            .map(|g| GroupSpec {
                name: g.group_name.clone(),
                replicas: g.replicas,
                min: g.min_replicas,
                max: limits::effective_max_replicas(g.max_replicas, g.num_of_hosts),
                num_of_hosts: g.num_of_hosts,
                suspend: g.suspend == Some(true),
                hash: desired
                    .and_then(|d| d.group(&g.group_name))
                    .map(|set| set.hash.clone())
                    .unwrap_or_default(),
                external_replicas: g.horizontal_pod_autoscaler.is_some(),
                autoscaled: spec.autoscaling_enabled(),
                workers_to_delete: g.workers_to_delete().to_vec(),
                removal: match spec.effective_workload_kind(g) {
                    WorkloadKind::Deployment => Removal::MarkedFirst,
                    WorkloadKind::StatefulSet => Removal::HighestOrdinals,
                },
                replace_outdated: spec.effective_workload_kind(g) == WorkloadKind::StatefulSet
                    && update_strategy::replaces_outdated_pods(spec),
            })
            .collect(),
        head_stuck_after_ms: head_stuck_after
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        pki_hash: desired
            .and_then(|d| d.pki.as_ref())
            .map(|set| set.hash.clone()),
    }
}

/// Whether the Redis cleanup finalizer belongs on `cluster`: fault
/// tolerance with the redis backend, and the operator's cleanup `enabled`.
#[must_use]
pub fn redis_cleanup(cluster: &RayCluster, enabled: bool) -> bool {
    enabled
        && gcs::backend(
            cluster.metadata.annotations.as_ref(),
            cluster.spec.gcs_fault_tolerance_options.as_ref(),
        ) == Some(gcs::GcsBackend::Redis)
}

/// The event of one reconcile.
#[must_use]
pub fn observed(at: Millis, spec: DesiredSpec, world: Observation) -> Event {
    Event {
        at,
        input: Input::Observed { spec, world },
    }
}

/// What one event did, and whether it must be journaled: a step that changed
/// neither the machine nor emitted anything leaves no trace, and replaying
/// without it gives the same result.
#[derive(Debug)]
pub struct Decision<M: Machine = ClusterMachine> {
    /// The machine's answer.
    pub step: Step<M::Phase, M::Command>,
    /// Whether the event, transition or commands must be journaled.
    pub worth_journaling: bool,
}

/// Feeds `event` to `machine`, of any kind.
pub fn decide<M: Machine>(machine: &mut M, event: &Event<M::Input>) -> Decision<M> {
    let before = machine.clone();
    let step = Machine::step(machine, event);
    let worth_journaling = !step.commands.is_empty() || step.transitioned() || *machine != before;
    Decision {
        step,
        worth_journaling,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::test_builders::group;

    #[test]
    fn groups_carry_bounds_and_hashes() {
        let cluster =
            RayCluster::test("rc").with_group(group("small").with_replicas(2).bounds(1, 3));
        let spec = desired_spec(&cluster, None, &[], None);
        assert_eq!(spec.groups.len(), 1);
        assert_eq!(spec.groups[0].replicas, 2);
        assert_eq!((spec.groups[0].min, spec.groups[0].max), (1, 3));
        assert!(spec.problems.is_empty());
        assert_eq!(spec.generation, 1);
    }

    #[test]
    fn validation_problems_reach_the_machine() {
        let cluster = RayCluster::test("rc").with_group(group("small").bounds(3, 1));
        let spec = desired_spec(&cluster, None, &[], None);
        assert!(
            spec.problems
                .iter()
                .any(|p| p.field.contains("minReplicas")),
            "{:?}",
            spec.problems
        );
    }

    #[test]
    fn an_unset_max_is_capped_and_reported_when_autoscaled() {
        let plain = RayCluster::test("rc").with_group(group("g").with_hosts(4));
        let spec = desired_spec(&plain, None, &[], None);
        assert_eq!(spec.groups[0].max, 2_500);
        assert!(spec.adjustments.is_empty());
        let autoscaled = plain.with_autoscaling();
        let spec = desired_spec(&autoscaled, None, &[], None);
        assert_eq!(
            spec.adjustments[0].field,
            "spec.workerGroupSpecs[0].maxReplicas"
        );
        assert!(spec.problems.is_empty());
    }

    #[test]
    fn build_problems_are_added() {
        let cluster = RayCluster::test("rc");
        let problem = SpecProblem {
            field: "spec.headGroupSpec.template".into(),
            message: "no container".into(),
        };
        assert_eq!(
            desired_spec(&cluster, None, std::slice::from_ref(&problem), None).problems,
            vec![problem]
        );
    }

    #[test]
    fn a_quiet_step_is_not_journaled() {
        let cluster = RayCluster::test("rc");
        let mut machine = ClusterMachine::new();
        let event = observed(
            Millis(1),
            desired_spec(&cluster, None, &[], None),
            Observation::default(),
        );
        assert!(decide(&mut machine, &event).worth_journaling);
        let again = observed(
            Millis(2),
            desired_spec(&cluster, None, &[], None),
            Observation::default(),
        );
        let second = decide(&mut machine, &again);
        // The head is still missing, so the machine asks again (level-triggered).
        assert!(second.worth_journaling);
        assert!(!second.step.transitioned());
    }
}
