//! Properties of the RayService machine over random journals, driven by the
//! modelled world of the test support (heads that come up, restart and lose
//! their apps, commands that fail): traffic (a Service's target, a rising
//! route weight) never moves to a cluster that is not serving; at most one
//! pending cluster exists; outside a suspension a cluster is deleted only
//! once traffic left it and its delay passed since it last had traffic; a
//! config is submitted at most once per (cluster, config) unless the
//! cluster lost it or the submission failed; the same actions give
//! byte-identical journals; a snapshot restored with serde goes on
//! identically.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod service_support;

use std::collections::BTreeMap;

use proptest::prelude::*;
use rayop_machines::{
    Millis, Step,
    rayservice::{
        ServiceCommand, ServiceEvent, ServiceInput, ServiceMachine, ServicePhase, ServiceSpec,
        Strategy as Rollout,
    },
};
use service_support::*;

const HASHES: [&str; 3] = ["c1", "c2", "c3"];
const CONFIGS: [&str; 2] = ["s1", "s2"];

/// What the harness does next.
#[derive(Clone, Debug)]
enum Action {
    /// Observe after `advance_ms`.
    Observe { advance_ms: u64 },
    /// Change the spec: cluster hash, config, replicas.
    Respec {
        hash: usize,
        config: usize,
        replicas: bool,
    },
    /// Toggle `spec.suspend`.
    Suspend(bool),
    /// The head of the active (or pending) cluster restarts without fault
    /// tolerance.
    RestartHead { pending: bool },
    /// The next observation's first world-changing command fails.
    FailNext,
    /// Tick after `advance_ms`.
    Tick { advance_ms: u64 },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        10 => prop_oneof![Just(1000u64), Just(10_000), 0u64..70_000]
            .prop_map(|advance_ms| Action::Observe { advance_ms }),
        2 => (0..HASHES.len(), 0..CONFIGS.len(), any::<bool>())
            .prop_map(|(hash, config, replicas)| Action::Respec { hash, config, replicas }),
        1 => proptest::bool::weighted(0.6).prop_map(Action::Suspend),
        1 => any::<bool>().prop_map(|pending| Action::RestartHead { pending }),
        1 => Just(Action::FailNext),
        2 => prop_oneof![Just(10_000u64), 0u64..90_000].prop_map(|advance_ms| Action::Tick { advance_ms }),
    ]
}

/// A harness plus what the properties need to remember.
struct Run {
    h: Harness,
    spec: ServiceSpec,
    fail_next: bool,
    /// The last moment each cluster had traffic, as observed.
    last_traffic: BTreeMap<u32, Millis>,
    /// The config last submitted to each cluster.
    submitted: BTreeMap<u32, String>,
    /// Resubmissions of the same config each cluster may get (its head
    /// restarted, or a submission failed).
    credit: BTreeMap<u32, u32>,
}

impl Run {
    fn new(strategy: Rollout) -> Self {
        let spec = ServiceSpec { strategy, ..spec() };
        Run {
            h: Harness::new(&spec),
            spec,
            fail_next: false,
            last_traffic: BTreeMap::new(),
            submitted: BTreeMap::new(),
            credit: BTreeMap::new(),
        }
    }

    fn act(&mut self, action: &Action) {
        match action {
            Action::Observe { advance_ms } => self.observe(*advance_ms),
            Action::Respec {
                hash,
                config,
                replicas,
            } => {
                let s = &self.spec;
                self.spec = ServiceSpec {
                    generation: s.generation + 1,
                    cluster_hash: HASHES[*hash].into(),
                    full_hash: format!("{}{}", HASHES[*hash], if *replicas { "r" } else { "" }),
                    serve_config_hash: CONFIGS[*config].into(),
                    ..s.clone()
                };
                self.observe(1000);
            }
            Action::Suspend(on) => {
                self.spec.generation += 1;
                self.spec.suspend = *on;
                self.observe(1000);
            }
            Action::RestartHead { pending } => {
                let service = self.h.d.machine.service();
                let member = if *pending {
                    &service.pending
                } else {
                    &service.active
                };
                if let Some(index) = member.as_ref().map(|m| m.index) {
                    self.h.sim.restart_head(index);
                    *self.credit.entry(index).or_insert(0) += 1;
                }
            }
            Action::FailNext => self.fail_next = true,
            Action::Tick { advance_ms } => {
                let step = self.h.d.feed_after(*advance_ms, ServiceInput::Tick);
                self.check(&step);
                let s = self.h.d.spec.clone();
                self.apply(&step, &s);
            }
        }
    }

    fn observe(&mut self, advance_ms: u64) {
        let world = self.h.sim.world();
        let at = self.h.d.at.plus(advance_ms);
        for c in &world.clusters {
            if world.has_traffic(c.index) {
                self.last_traffic.insert(c.index, at);
            }
        }
        let step = self
            .h
            .d
            .feed_after(advance_ms, obs(&self.spec.clone(), &world));
        self.check(&step);
        let s = self.spec.clone();
        self.apply(&step, &s);
        self.h.sim.age();
    }

    fn apply(&mut self, step: &Step<ServicePhase, ServiceCommand>, spec: &ServiceSpec) {
        let mut failed = None;
        for command in &step.commands {
            let writes = !matches!(
                command,
                ServiceCommand::PublishStatus(_)
                    | ServiceCommand::Announce(_)
                    | ServiceCommand::WakeAt(_)
                    | ServiceCommand::Forget
            );
            if self.fail_next && writes && failed.is_none() {
                failed = Some(command.kind());
                if matches!(command, ServiceCommand::SubmitServeConfig { .. }) {
                    // Unconfirmed submissions anywhere are made again.
                    for credit in self.credit.values_mut() {
                        *credit += 1;
                    }
                    for cluster in self.submitted.keys() {
                        self.credit.entry(*cluster).or_insert(1);
                    }
                }
                continue;
            }
            self.h.sim.apply(command, spec);
        }
        if let Some(kind) = failed {
            self.fail_next = false;
            let step = self.h.d.feed_after(
                0,
                ServiceInput::CommandFailed {
                    command: kind,
                    reason: "Injected".into(),
                    message: "injected".into(),
                },
            );
            self.check(&step);
        }
    }

    /// The properties of one step, against the world the machine decided on.
    fn check(&mut self, step: &Step<ServicePhase, ServiceCommand>) {
        let m = self.h.d.machine.service();
        let world = &m.world;
        let now = self.h.d.at;
        let suspending =
            step.from == ServicePhase::Suspending || step.to == ServicePhase::Suspending;
        for command in &step.commands {
            match command {
                ServiceCommand::PointServices { cluster } => {
                    assert!(
                        world.cluster(*cluster).is_some_and(|c| c.serving()),
                        "traffic to cluster {cluster}, which does not serve: {world:#?}"
                    );
                }
                ServiceCommand::SetRoute { backends } => {
                    let observed = world.route.clone().unwrap_or_default();
                    for &(cluster, weight) in backends {
                        assert!(
                            weight <= observed.weight(cluster)
                                || world.cluster(cluster).is_some_and(|c| c.serving()),
                            "weight rises on cluster {cluster}, which does not serve"
                        );
                    }
                }
                ServiceCommand::DeleteCluster { cluster } if !suspending => {
                    assert!(
                        !world.has_traffic(*cluster),
                        "cluster {cluster} deleted with traffic"
                    );
                    if let Some(last) = self.last_traffic.get(cluster) {
                        let delay = u64::from(self.h.d.spec.deletion_delay_seconds) * 1000;
                        assert!(
                            now >= last.plus(delay),
                            "cluster {cluster} deleted at {now:?}, traffic until {last:?}"
                        );
                    }
                }
                ServiceCommand::SubmitServeConfig {
                    cluster,
                    config_hash,
                    ..
                } => {
                    let last = self.submitted.insert(*cluster, config_hash.clone());
                    if last.as_ref() == Some(config_hash) {
                        let credit = self.credit.entry(*cluster).or_insert(0);
                        assert!(
                            *credit > 0,
                            "config {config_hash} submitted again to cluster {cluster}, which did not lose it"
                        );
                        *credit -= 1;
                    }
                }
                _ => {}
            }
        }
        let service = self.h.d.machine.service();
        let others = world
            .clusters
            .iter()
            .filter(|c| !service.retiring.contains_key(&c.index))
            .filter(|c| service.active.as_ref().map(|a| a.index) != Some(c.index))
            .count();
        assert!(others <= 1, "more than one pending cluster: {world:#?}");
    }
}

fn rollout() -> impl Strategy<Value = Rollout> {
    prop_oneof![
        Just(Rollout::NewCluster),
        Just(Rollout::Incremental(OPTIONS)),
        Just(Rollout::None),
    ]
}

fn run(strategy: Rollout, actions: &[Action]) -> Run {
    let mut r = Run::new(strategy);
    for a in actions {
        r.act(a);
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn traffic_deletion_submission_and_pending_hold(
        strategy in rollout(),
        actions in proptest::collection::vec(action(), 1..60),
    ) {
        run(strategy, &actions);
    }

    #[test]
    fn the_same_actions_give_the_same_journal(
        strategy in rollout(),
        actions in proptest::collection::vec(action(), 1..40),
    ) {
        let a = serde_json::to_string(&run(strategy, &actions).h.d.journal).unwrap();
        let b = serde_json::to_string(&run(strategy, &actions).h.d.journal).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn a_restored_snapshot_goes_on_identically(
        strategy in rollout(),
        actions in proptest::collection::vec(action(), 1..40),
        cut in 0usize..40,
    ) {
        let r = run(strategy, &actions);
        let journal = &r.h.d.journal;
        let cut = cut.min(journal.len());
        let mut original = ServiceMachine::new();
        for line in &journal[..cut] {
            original.step(&line.event);
        }
        let snapshot = serde_json::to_string(&original).unwrap();
        let mut restored: ServiceMachine = serde_json::from_str(&snapshot).unwrap();
        prop_assert_eq!(&restored, &original);
        for line in &journal[cut..] {
            let event: &ServiceEvent = &line.event;
            let a = original.step(event);
            let b = restored.step(event);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&a, &line.step);
        }
    }
}

#[test]
fn the_harness_reaches_every_live_phase() {
    // Guard against a vacuous model: a plain run goes through an upgrade.
    let r = run(
        Rollout::NewCluster,
        &[
            Action::Observe { advance_ms: 1000 },
            Action::Observe { advance_ms: 1000 },
            Action::Observe { advance_ms: 1000 },
            Action::Observe { advance_ms: 1000 },
            Action::Respec {
                hash: 1,
                config: 0,
                replicas: false,
            },
            Action::Observe { advance_ms: 1000 },
            Action::Observe { advance_ms: 1000 },
            Action::Observe { advance_ms: 1000 },
            Action::Observe { advance_ms: 1000 },
            Action::Tick { advance_ms: 61_000 },
        ],
    );
    let phases: Vec<ServicePhase> = r.h.d.journal.iter().map(|l| l.step.to).collect();
    assert!(phases.contains(&ServicePhase::Upgrading), "{phases:?}");
    assert_eq!(phases.last(), Some(&ServicePhase::Running));
    assert!(r.h.d.journal.iter().any(|l| {
        l.step
            .commands
            .contains(&ServiceCommand::DeleteCluster { cluster: 1 })
    }));
}
