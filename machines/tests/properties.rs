//! Property tests over random event sequences.
//!
//! Invariants checked after every step:
//! - never two heads: at most one `EnsureHead` per step, with 0 or 1 replicas,
//!   and a head pod is only ever deleted by UID when it was observed finished;
//! - `Ready` only when the head pod is serving and every group has its
//!   desired count of serving pods;
//! - an invalid spec never leads to object changes;
//! - a live pod named in `workersToDelete` is deleted, marked or removed by
//!   a lower count (except where a StatefulSet cannot);
//! - commands are idempotent: a world model applying a step's commands twice
//!   ends where applying them once does;
//! - determinism: replaying from the serialized start state gives
//!   byte-identical states and commands, and a machine restored from a
//!   snapshot mid-way continues exactly like the one that never stopped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rayop_machines::{
    Applied, ClusterMachine, Command, CommandKind, DeleteReason, DesiredSpec, Event,
    GroupObservation, GroupSpec, HeadObservation, Input, Millis, Observation, Phase, PodPhase,
    PodView, Removal, SpecProblem,
};
use support::T0;

fn arb_group(name: &'static str) -> impl Strategy<Value = GroupSpec> {
    (
        (0..6i32, 0..3i32, 0..5i32, 1..3i32, any::<bool>(), 0..2u8),
        (
            prop::bool::weighted(0.15),
            any::<bool>(),
            prop::collection::vec(0..4u8, 0..3),
            any::<bool>(),
        ),
    )
        .prop_map(
            move |(
                (replicas, min, span, hosts, suspend, v),
                (external, autoscaled, doomed, marked_first),
            )| {
                GroupSpec {
                    name: name.into(),
                    replicas,
                    min,
                    max: min + span,
                    num_of_hosts: hosts,
                    suspend: suspend && v == 0,
                    hash: format!("{name}-v{v}"),
                    external_replicas: external,
                    autoscaled,
                    workers_to_delete: doomed.iter().map(|i| format!("{name}-{i}")).collect(),
                    removal: if marked_first {
                        Removal::MarkedFirst
                    } else {
                        Removal::HighestOrdinals
                    },
                    replace_outdated: !marked_first && v == 1,
                }
            },
        )
}

fn arb_spec() -> impl Strategy<Value = DesiredSpec> {
    (
        1..4i64,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        any::<bool>(),
        0..2u8,
        arb_group("a"),
        prop::option::of(arb_group("b")),
    )
        .prop_map(|(generation, invalid, suspend, ft, hv, a, b)| DesiredSpec {
            generation,
            redis_cleanup: false,
            problems: if invalid {
                vec![SpecProblem {
                    field: "spec.x".into(),
                    message: "bad".into(),
                }]
            } else {
                Vec::new()
            },
            adjustments: Vec::new(),
            suspend,
            gcs_fault_tolerance: ft,
            head_hash: format!("head-v{hv}"),
            groups: std::iter::once(a).chain(b).collect(),
            head_stuck_after_ms: None,
            pki_hash: None,
        })
}

fn arb_phase() -> impl Strategy<Value = PodPhase> {
    prop_oneof![
        6 => Just(PodPhase::Running),
        1 => Just(PodPhase::Pending),
        1 => Just(PodPhase::Failed),
        1 => Just(PodPhase::Succeeded),
    ]
}

fn arb_pod(prefix: &'static str) -> impl Strategy<Value = PodView> {
    (
        0..4u8,
        arb_phase(),
        any::<bool>(),
        0..3i32,
        0..120u64,
        prop::bool::weighted(0.1),
        any::<bool>(),
    )
        .prop_map(
            move |(id, phase, ready, restarts, created, terminating, marked)| PodView {
                outdated: false,
                name: format!("{prefix}-{id}"),
                uid: format!("{prefix}-uid-{id}-{restarts}"),
                phase,
                ready,
                restarts,
                created: T0.plus(created * 1000),
                terminating,
                marked,
                problem: None,
            },
        )
}

fn arb_applied(names: &'static [&'static str]) -> impl Strategy<Value = Option<Applied>> {
    prop::option::weighted(
        0.8,
        (prop::sample::select(names), 0..7i32).prop_map(|(h, r)| Applied::new(h.to_owned(), r)),
    )
}

fn arb_world() -> impl Strategy<Value = Observation> {
    let head = (
        arb_applied(&["head-v0", "head-v1", "mixed"]),
        prop::option::weighted(0.8, arb_pod("head")),
    )
        .prop_map(|(applied, pod)| HeadObservation {
            applied,
            pod,
            failed_create: None,
        });
    let group = |name: &'static str, hashes: &'static [&'static str]| {
        (
            arb_applied(hashes),
            any::<bool>(),
            prop::collection::vec(arb_pod(name), 0..6),
        )
            .prop_map(move |(applied, rolled_out, pods)| GroupObservation {
                name: name.into(),
                applied,
                rolled_out,
                pods,
                failed_create: None,
            })
    };
    (
        head,
        group("a", &["a-v0", "a-v1"]),
        prop::option::of(group("b", &["b-v0", "b-v1"])),
    )
        .prop_map(|(head, a, b)| Observation {
            head,
            groups: std::iter::once(a).chain(b).collect(),
            cleanup_finalizer: false,
            pki: None,
        })
}

#[derive(Clone, Debug)]
enum Gen {
    Observed(Box<(DesiredSpec, Observation)>),
    Tick,
    Failed,
    Deleted,
}

fn arb_input() -> impl Strategy<Value = Gen> {
    prop_oneof![
        20 => (arb_spec(), arb_world()).prop_map(|sw| Gen::Observed(Box::new(sw))),
        3 => Just(Gen::Tick),
        1 => Just(Gen::Failed),
        1 => Just(Gen::Deleted),
    ]
}

fn arb_events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((arb_input(), 0..400_000u64), 1..40).prop_map(|items| {
        let mut at = T0;
        items
            .into_iter()
            .map(|(g, gap)| {
                at = at.plus(gap);
                let input = match g {
                    Gen::Observed(sw) => {
                        let (spec, world) = *sw;
                        Input::Observed { spec, world }
                    }
                    Gen::Tick => Input::Tick,
                    Gen::Failed => Input::CommandFailed {
                        command: CommandKind::EnsureGroup,
                        reason: "FailedApplyWorkers".into(),
                        message: "denied".into(),
                    },
                    Gen::Deleted => Input::Deleted,
                };
                Event { at, input }
            })
            .collect()
    })
}

/// A model of the API server's objects, for the idempotence check.
#[derive(Clone, Debug, PartialEq, Default)]
struct World {
    head: Option<i32>,
    groups: BTreeMap<String, Option<i32>>,
    pods: BTreeSet<(String, String)>,
    marked: BTreeSet<(String, String)>,
    status: Option<rayop_machines::StatusSummary>,
    events: BTreeSet<(String, String)>,
    wake: Option<Millis>,
    forgotten: bool,
}

impl World {
    fn from(obs: &Observation) -> World {
        let mut w = World::default();
        for g in &obs.groups {
            for p in &g.pods {
                w.pods.insert((p.name.clone(), p.uid.clone()));
            }
        }
        if let Some(p) = &obs.head.pod {
            w.pods.insert((p.name.clone(), p.uid.clone()));
        }
        w
    }

    fn apply(&mut self, commands: &[Command]) {
        for c in commands {
            match c {
                Command::EnsureHead { replicas } => self.head = Some(*replicas),
                Command::EnsurePki => {}
                Command::EnsureGroup { group, replicas } => {
                    self.groups.insert(group.clone(), *replicas);
                }
                Command::RemoveGroup { group } => {
                    self.groups.remove(group);
                }
                Command::MarkPods { pods, .. } => {
                    for p in pods {
                        let key = (p.name.clone(), p.uid.clone());
                        if self.pods.contains(&key) {
                            self.marked.insert(key);
                        }
                    }
                }
                Command::DeletePods { pods, .. } => {
                    for p in pods {
                        self.pods.remove(&(p.name.clone(), p.uid.clone()));
                    }
                }
                Command::PublishStatus(s) => self.status = Some(s.clone()),
                // Kubernetes aggregates identical Events into one series.
                Command::Announce(n) => {
                    self.events.insert((n.reason.clone(), n.message.clone()));
                }
                Command::WakeAt(t) => self.wake = Some(*t),
                Command::Forget => self.forgotten = true,
                // The Redis cleanup's commands only come from `Finalizing`
                // and specs with `redis_cleanup`, which these runs never have.
                Command::AddFinalizer
                | Command::StopWorkloads
                | Command::EnsureCleanupJob
                | Command::RemoveFinalizer => {}
            }
        }
    }
}

fn serving_count(pods: &[PodView]) -> i32 {
    i32::try_from(pods.iter().filter(|p| p.is_serving()).count()).unwrap()
}

fn check_invariants(before: Phase, event: &Event, step: &rayop_machines::Step) {
    let heads: Vec<i32> = step
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::EnsureHead { replicas } => Some(*replicas),
            _ => None,
        })
        .collect();
    assert!(heads.len() <= 1, "two EnsureHead in one step: {heads:?}");
    assert!(
        heads.iter().all(|r| *r == 0 || *r == 1),
        "head replicas {heads:?}"
    );

    if before == Phase::Deleted {
        assert!(
            step.commands.is_empty(),
            "commands after deletion: {:?}",
            step.commands
        );
    }

    let Input::Observed { spec, world } = &event.input else {
        return;
    };
    for c in &step.commands {
        if let Command::DeletePods {
            reason: DeleteReason::HeadPodFinished,
            pods,
        } = c
        {
            let head = world
                .head
                .pod
                .as_ref()
                .expect("deleted a head pod that was not observed");
            assert!(
                head.is_finished(),
                "deleted a head pod that had not finished"
            );
            assert_eq!(pods.len(), 1);
            assert_eq!(pods[0].uid, head.uid);
        }
    }
    if !spec.problems.is_empty() {
        assert!(
            !step.commands.iter().any(|c| matches!(
                c,
                Command::EnsureHead { .. }
                    | Command::EnsureGroup { .. }
                    | Command::RemoveGroup { .. }
                    | Command::DeletePods { .. }
            )),
            "invalid spec changed objects: {:?}",
            step.commands
        );
    }
    for c in &step.commands {
        let Command::EnsureGroup { group, replicas } = c else {
            continue;
        };
        let Some(g) = spec.groups.iter().find(|g| &g.name == group) else {
            continue;
        };
        if g.external_replicas && !spec.suspend {
            assert!(
                replicas.is_none(),
                "wrote replicas of HPA-owned group {group}"
            );
        }
        let live = world.groups.iter().find(|o| &o.name == group);
        let current = live.and_then(|o| o.applied.as_ref()).map(|a| a.replicas);
        if let (Some(r), Some(current), Some(live)) = (replicas, current, live)
            && g.autoscaled
            && *r < current
            && !spec.suspend
        {
            // A scale-down under the autoscaler removes only named pods that
            // the workload will remove first.
            let chosen: Vec<&PodView> = live
                .pods
                .iter()
                .filter(|p| !p.terminating && g.workers_to_delete.contains(&p.name))
                .collect();
            assert!(
                !chosen.is_empty(),
                "random scale-down of {group} under autoscaling"
            );
            match g.removal {
                Removal::MarkedFirst => assert!(chosen.iter().all(|p| p.marked), "unmarked pods"),
                Removal::HighestOrdinals => assert!(chosen.iter().all(|p| {
                    p.name
                        .rsplit_once('-')
                        .and_then(|(_, n)| n.parse::<i32>().ok())
                        .is_some_and(|n| n >= *r)
                })),
            }
        }
    }
    if spec.problems.is_empty() && !spec.suspend && before != Phase::Deleted {
        named_pods_are_acted_on(spec, world, step);
    }
    if step.to == Phase::Ready {
        let head = world.head.pod.as_ref().is_some_and(PodView::is_serving);
        assert!(head, "Ready without a serving head");
        for g in &spec.groups {
            let live = world.groups.iter().find(|o| o.name == g.name);
            let serving = live.map_or(0, |o| serving_count(&o.pods));
            assert_eq!(
                serving,
                g.desired_pods(spec.suspend),
                "Ready with group {} short",
                g.name
            );
        }
    }
}

/// A live pod named in `workersToDelete` is never left alone: it is
/// deleted, marked (or already marked) for the ReplicaSet, or the group's
/// count goes down. Left alone only where documented: a StatefulSet group
/// without in-tree autoscaling whose count does not go down (deleting would
/// recreate it under its name), and a scale-down a StatefulSet cannot do.
fn named_pods_are_acted_on(spec: &DesiredSpec, world: &Observation, step: &rayop_machines::Step) {
    let deleted: BTreeSet<&str> = step
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::DeletePods { pods, .. } => Some(pods.iter().map(|p| p.uid.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let marked: BTreeSet<&str> = step
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::MarkPods { pods, .. } => Some(pods.iter().map(|p| p.uid.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    for g in spec.groups.iter().filter(|g| !g.external_replicas) {
        let Some(live) = world.groups.iter().find(|o| o.name == g.name) else {
            continue;
        };
        let Some(current) = live.applied.as_ref().map(|a| a.replicas) else {
            continue;
        };
        let target = g.desired_pods(false);
        if target < current || (g.removal == Removal::HighestOrdinals && !g.autoscaled) {
            continue;
        }
        for p in live
            .pods
            .iter()
            .filter(|p| !p.terminating && g.workers_to_delete.contains(&p.name))
        {
            assert!(
                deleted.contains(p.uid.as_str()) || marked.contains(p.uid.as_str()),
                "named pod {} of {} left alone at {target} of {current}: {:?}",
                p.name,
                g.name,
                step.commands
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_on_every_step(events in arb_events()) {
        let mut m = ClusterMachine::new();
        for e in &events {
            let before = m.phase();
            let step = m.step(e);
            check_invariants(before, e, &step);
        }
    }

    #[test]
    fn commands_are_idempotent(events in arb_events()) {
        let mut m = ClusterMachine::new();
        for e in &events {
            let step = m.step(e);
            let start = match &e.input {
                Input::Observed { world, .. } => World::from(world),
                _ => World::default(),
            };
            let mut once = start.clone();
            once.apply(&step.commands);
            let mut twice = once.clone();
            twice.apply(&step.commands);
            prop_assert_eq!(once, twice);
        }
    }

    #[test]
    fn replay_from_serialized_start_is_byte_identical(
        prefix in arb_events(),
        events in arb_events(),
    ) {
        let mut start = ClusterMachine::new();
        for e in &prefix {
            start.step(e);
        }
        let frozen = serde_json::to_string(&start).unwrap();
        let run = || {
            let mut m: ClusterMachine = serde_json::from_str(&frozen).unwrap();
            let mut trace = Vec::new();
            for e in &events {
                let step = m.step(e);
                trace.push(serde_json::to_string(&step).unwrap());
                trace.push(serde_json::to_string(&m).unwrap());
            }
            trace
        };
        prop_assert_eq!(run(), run());
    }

    #[test]
    fn a_restored_machine_continues_like_the_original(events in arb_events(), cut in 0usize..40) {
        let cut = cut.min(events.len());
        let mut original = ClusterMachine::new();
        for e in &events[..cut] {
            original.step(e);
        }
        let snapshot = serde_json::to_vec(&original).unwrap();
        let mut restored: ClusterMachine = serde_json::from_slice(&snapshot).unwrap();
        prop_assert_eq!(&restored, &original);
        for e in &events[cut..] {
            let a = original.step(e);
            let b = restored.step(e);
            prop_assert_eq!(a, b);
        }
        prop_assert_eq!(serde_json::to_vec(&original).unwrap(), serde_json::to_vec(&restored).unwrap());
    }

    #[test]
    fn repeating_an_observation_reaches_a_quiet_fixpoint(spec in arb_spec(), world in arb_world()) {
        // Level-triggered: Ensure commands repeat while the world lags, but
        // status writes, Events and timers settle within a few steps.
        let mut m = ClusterMachine::new();
        let mut last = None;
        for i in 0..4 {
            let input = Input::Observed { spec: spec.clone(), world: world.clone() };
            last = Some(m.step(&Event { at: T0.plus(i), input }));
        }
        let last = last.unwrap();
        prop_assert!(!last.commands.iter().any(|c| matches!(
            c,
            Command::PublishStatus(_) | Command::Announce(_) | Command::WakeAt(_)
        )), "{:?}", last.commands);
        prop_assert!(!last.transitioned());
    }
}

#[test]
fn restore_mid_recovery_does_not_replay_entry_effects() {
    // statig re-runs entry actions on the first event after deserialising; the
    // machine has none, so a restored machine's first step equals the original's.
    let (mut m, last) = support::drive_to(Phase::Recovering);
    let mut restored: ClusterMachine =
        serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    let tick = Event {
        at: last.plus(1),
        input: Input::Tick,
    };
    assert_eq!(m.step(&tick), restored.step(&tick));
    assert_eq!(restored.phase(), Phase::Recovering);
}

#[test]
fn transitions_report_source_then_target() {
    // statig's blocking before_transition swaps its arguments; the machine
    // records transitions in after_transition, which must see from → to.
    let s = support::spec();
    let mut m = ClusterMachine::new();
    let step = m.step(&support::observed(
        support::at(1),
        &s,
        &Observation::default(),
    ));
    assert_eq!((step.from, step.to), (Phase::Pending, Phase::HeadStarting));
}
