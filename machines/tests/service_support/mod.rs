//! Builders shared by the RayService machine's tests: specs, worlds, a
//! driver that feeds events one second apart and keeps the journal, and
//! the scenario of every row of the transition table (walked by the edge
//! test, recorded by the golden journals).
#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use rayop_machines::{
    Millis, SpecProblem, Step,
    rayservice::{
        AppStatus, ClusterView, IncrementalOptions, RouteView, ServeView, ServiceCommand,
        ServiceCommandKind, ServiceEvent, ServiceInput, ServiceMachine, ServicePhase, ServiceSpec,
        ServiceWorld, Strategy,
    },
};
use serde::{Deserialize, Serialize};

/// A valid blue/green spec: cluster hash `c1`, config `s1`, delay 60 s.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        generation: 1,
        cluster_hash: "c1".into(),
        compatible_hashes: Vec::new(),
        full_hash: "f1".into(),
        serve_config_hash: "s1".into(),
        strategy: Strategy::NewCluster,
        deletion_delay_seconds: 60,
        suspend: false,
        exclude_head_from_serve_svc: false,
        problems: Vec::new(),
    }
}

/// The incremental options of the tests: surge 50, step 50, 10 s.
pub const OPTIONS: IncrementalOptions = IncrementalOptions {
    max_surge_percent: 50,
    step_size_percent: 50,
    interval_seconds: 10,
};

/// `spec()` upgraded incrementally.
pub fn incremental() -> ServiceSpec {
    ServiceSpec {
        strategy: Strategy::Incremental(OPTIONS),
        ..spec()
    }
}

/// `s` with another cluster hash (a change that needs a new cluster).
pub fn respec(s: &ServiceSpec, hash: &str) -> ServiceSpec {
    ServiceSpec {
        generation: s.generation + 1,
        cluster_hash: hash.into(),
        full_hash: hash.replacen('c', "f", 1),
        ..s.clone()
    }
}

/// `s` made invalid at the next generation.
pub fn broken(s: &ServiceSpec) -> ServiceSpec {
    ServiceSpec {
        generation: s.generation + 1,
        problems: vec![SpecProblem::new("spec.rayClusterConfig", "required")],
        ..s.clone()
    }
}

/// Cluster `index` built for `s`, its head not ready.
pub fn starting(index: u32, s: &ServiceSpec) -> ClusterView {
    ClusterView {
        index,
        cluster_hash: s.cluster_hash.clone(),
        full_hash: s.full_hash.clone(),
        ..ClusterView::default()
    }
}

/// Its head is ready and the dashboard answers without applications.
pub fn answering(index: u32, s: &ServiceSpec) -> ClusterView {
    ClusterView {
        head_ready: true,
        head_serve_label: Some(false),
        serve: ServeView::Apps(BTreeMap::new()),
        ..starting(index, s)
    }
}

/// Applications with these statuses.
pub fn with_apps(mut view: ClusterView, status: AppStatus) -> ClusterView {
    view.serve = ServeView::Apps(BTreeMap::from([("app".to_owned(), status)]));
    view
}

/// Serving: head ready, proxy healthy and labelled, one RUNNING app.
pub fn serving(index: u32, s: &ServiceSpec) -> ClusterView {
    ClusterView {
        proxy_healthy: true,
        head_serve_label: Some(true),
        ..with_apps(answering(index, s), AppStatus::Running)
    }
}

/// A world of these clusters, the Services on `target` with `endpoints`.
pub fn world(clusters: Vec<ClusterView>, target: Option<u32>, endpoints: u32) -> ServiceWorld {
    ServiceWorld {
        clusters,
        head_service: target,
        serve_service: target,
        route: None,
        serve_endpoints: endpoints,
    }
}

/// An incremental world: only the head Service, and a ready route.
pub fn routed(
    clusters: Vec<ClusterView>,
    head: Option<u32>,
    weights: &[(u32, u8)],
    endpoints: u32,
) -> ServiceWorld {
    ServiceWorld {
        clusters,
        head_service: head,
        serve_service: None,
        route: Some(RouteView {
            ready: true,
            weights: weights.iter().copied().collect(),
        }),
        serve_endpoints: endpoints,
    }
}

/// An observation.
pub fn obs(spec: &ServiceSpec, world: &ServiceWorld) -> ServiceInput {
    ServiceInput::Observed {
        spec: spec.clone(),
        world: world.clone(),
    }
}

/// One journal line: the event and what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The event.
    pub event: ServiceEvent,
    /// The step.
    pub step: Step<ServicePhase, ServiceCommand>,
}

/// Feeds a machine and keeps the journal, the spec and the world in use.
#[derive(Clone, Debug)]
pub struct Driver {
    pub machine: ServiceMachine,
    pub at: Millis,
    pub journal: Vec<Line>,
    pub spec: ServiceSpec,
    pub world: ServiceWorld,
}

impl Driver {
    /// A machine in New under `spec`, nothing in the world.
    pub fn new(spec: &ServiceSpec) -> Self {
        Driver {
            machine: ServiceMachine::new(),
            at: Millis(1_000_000),
            journal: Vec::new(),
            spec: spec.clone(),
            world: ServiceWorld::default(),
        }
    }

    /// Feeds `input` one second after the previous event.
    pub fn feed(&mut self, input: ServiceInput) -> Step<ServicePhase, ServiceCommand> {
        self.feed_after(1000, input)
    }

    /// Feeds `input` `ms` after the previous event.
    pub fn feed_after(
        &mut self,
        ms: u64,
        input: ServiceInput,
    ) -> Step<ServicePhase, ServiceCommand> {
        self.at = self.at.plus(ms);
        if let ServiceInput::Observed { spec, world } = &input {
            self.spec = spec.clone();
            self.world = world.clone();
        }
        let event = ServiceEvent { at: self.at, input };
        let step = self.machine.step(&event);
        self.journal.push(Line {
            event,
            step: step.clone(),
        });
        step
    }

    /// Observes `world` under the driver's spec.
    pub fn see(&mut self, world: ServiceWorld) -> Step<ServicePhase, ServiceCommand> {
        let s = self.spec.clone();
        self.feed(obs(&s, &world))
    }

    /// Observes `world` under `spec`.
    pub fn see_with(
        &mut self,
        spec: &ServiceSpec,
        world: ServiceWorld,
    ) -> Step<ServicePhase, ServiceCommand> {
        self.feed(obs(spec, &world))
    }

    /// The event that would come next (one second later).
    pub fn next(&self, input: ServiceInput) -> ServiceEvent {
        ServiceEvent {
            at: self.at.plus(1000),
            input,
        }
    }
}

/// A driver in `phase`, from `base` (blue/green or incremental): the first
/// cluster is 1; an upgrade prepares cluster 2 for hash `c2`.
pub fn drive_to(phase: ServicePhase, base: &ServiceSpec) -> Driver {
    let mut d = Driver::new(base);
    let s = base.clone();
    let incremental = matches!(s.strategy, Strategy::Incremental(_));
    match phase {
        ServicePhase::New => {}
        ServicePhase::WaitForServeDeploymentReady => {
            d.see(world(vec![], None, 0));
        }
        ServicePhase::Running => {
            d = drive_to(ServicePhase::WaitForServeDeploymentReady, base);
            d.see(world(vec![answering(1, &s)], None, 0));
            d.see(world(vec![serving(1, &s)], None, 0));
            if incremental {
                d.see(routed(vec![serving(1, &s)], Some(1), &[], 2));
                d.see(routed(vec![serving(1, &s)], Some(1), &[(1, 100)], 2));
            } else {
                d.see(world(vec![serving(1, &s)], Some(1), 2));
            }
        }
        ServicePhase::Upgrading => {
            d = drive_to(ServicePhase::Running, base);
            let s2 = respec(&s, "c2");
            let w = d.world.clone();
            d.see_with(&s2, w);
        }
        ServicePhase::RollingBack => {
            d = weighted();
            let w = d.world.clone();
            let back = respec(&d.spec, "c1");
            d.see_with(&back, w);
        }
        ServicePhase::Suspending => {
            d = drive_to(ServicePhase::Running, base);
            let w = d.world.clone();
            d.see_with(&ServiceSpec { suspend: true, ..s }, w);
        }
        ServicePhase::Suspended => {
            d = drive_to(ServicePhase::Suspending, base);
            d.see(world(vec![], None, 0));
        }
        ServicePhase::Invalid => {
            d = drive_to(ServicePhase::Running, base);
            let w = d.world.clone();
            d.see_with(&broken(&s), w);
        }
        ServicePhase::Deleted => {
            d.feed(ServiceInput::Deleted);
        }
    }
    assert_eq!(
        d.machine.phase(),
        phase,
        "could not drive to {phase}: {:#?}",
        d.journal.last()
    );
    d
}

/// An incremental upgrade from cluster 1 to cluster 2 with half the
/// weight moved: capacities 50/50, weights 50/50, the last weight step
/// two seconds ago.
pub fn weighted() -> Driver {
    let mut d = drive_to(ServicePhase::Running, &incremental());
    let s1 = d.spec.clone();
    let s2 = respec(&s1, "c2");
    let one = serving(1, &s1);
    d.see_with(&s2, routed(vec![one.clone()], Some(1), &[(1, 100)], 2));
    // Cluster 2 answers: its config goes with capacity 0, then capacity 50;
    // it serves: weight 50; the route shows it: active capacity 50.
    d.see(routed(
        vec![one.clone(), answering(2, &s2)],
        Some(1),
        &[(1, 100)],
        2,
    ));
    d.see(routed(
        vec![one.clone(), serving(2, &s2)],
        Some(1),
        &[(1, 100)],
        2,
    ));
    d.see(routed(
        vec![one, serving(2, &s2)],
        Some(1),
        &[(1, 50), (2, 50)],
        3,
    ));
    assert_eq!(d.machine.phase(), ServicePhase::Upgrading);
    d
}

/// The kinds of a step's commands.
pub fn kinds(step: &Step<ServicePhase, ServiceCommand>) -> Vec<ServiceCommandKind> {
    step.commands.iter().map(ServiceCommand::kind).collect()
}

/// The machine before a table row's event (its journal so far), and the
/// event, for the row `id` left from `from`.
pub fn case(id: &str, from: ServicePhase) -> (Driver, ServiceEvent) {
    let base = spec();
    let s = base.clone();
    let at = |d: &Driver, input: ServiceInput| d.next(input);
    let see = |d: &Driver, w: ServiceWorld| {
        let s = d.spec.clone();
        d.next(obs(&s, &w))
    };
    let see_with = |d: &Driver, s: &ServiceSpec| {
        let w = d.world.clone();
        d.next(obs(s, &w))
    };
    let s2 = respec(&s, "c2");
    let running_world = world(vec![serving(1, &s)], Some(1), 2);
    match id {
        "new-create" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![], None, 0));
            (d, e)
        }
        "new-adopt" => {
            let d = drive_to(from, &base);
            let e = see(&d, running_world);
            (d, e)
        }
        "first-waiting" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![starting(1, &s)], None, 0));
            (d, e)
        }
        "first-submit" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![answering(1, &s)], None, 0));
            (d, e)
        }
        "first-serving" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![answering(1, &s)], None, 0));
            let e = see(&d, world(vec![serving(1, &s)], None, 0));
            (d, e)
        }
        "first-promoted" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![answering(1, &s)], None, 0));
            d.see(world(vec![serving(1, &s)], None, 0));
            let e = see(&d, running_world);
            (d, e)
        }
        "first-respec" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![starting(1, &s)], None, 0));
            let e = see_with(&d, &s2);
            (d, e)
        }
        "steady" => {
            let d = drive_to(from, &base);
            let e = see(&d, running_world);
            (d, e)
        }
        "config-changed" => {
            let d = drive_to(from, &base);
            let changed = ServiceSpec {
                generation: 2,
                serve_config_hash: "s2".into(),
                ..s.clone()
            };
            let e = see_with(&d, &changed);
            (d, e)
        }
        "replicas-changed" => {
            let d = drive_to(from, &base);
            let changed = ServiceSpec {
                generation: 2,
                full_hash: "f1-replicas".into(),
                ..s.clone()
            };
            let e = see_with(&d, &changed);
            (d, e)
        }
        "groups-appended" => {
            let d = drive_to(from, &base);
            let changed = ServiceSpec {
                generation: 2,
                cluster_hash: "c1-more-groups".into(),
                compatible_hashes: vec!["c1".into()],
                full_hash: "f1-more-groups".into(),
                ..s.clone()
            };
            let e = see_with(&d, &changed);
            (d, e)
        }
        "upgrade" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &s2);
            (d, e)
        }
        "upgrade-none" => {
            let none = ServiceSpec {
                strategy: Strategy::None,
                ..s.clone()
            };
            let d = drive_to(from, &none);
            let e = see_with(&d, &respec(&none, "c2"));
            (d, e)
        }
        "head-lost" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![starting(1, &s)], Some(1), 1));
            (d, e)
        }
        "head-back" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![starting(1, &s)], Some(1), 1));
            let e = see(&d, running_world);
            (d, e)
        }
        "config-lost" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![answering(1, &s)], Some(1), 0));
            (d, e)
        }
        "label-head" => {
            let d = drive_to(from, &base);
            let mut unlabelled = serving(1, &s);
            unlabelled.head_serve_label = Some(false);
            let e = see(&d, world(vec![unlabelled], Some(1), 2));
            (d, e)
        }
        "endpoints-lost" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![serving(1, &s)], Some(1), 0));
            (d, e)
        }
        "route-restored" => {
            let d = drive_to(from, &incremental());
            let mut w = d.world.clone();
            w.route = None;
            let e = see(&d, w);
            (d, e)
        }
        "dangling" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![serving(1, &s), starting(7, &s)], Some(1), 2));
            (d, e)
        }
        "old-cluster-due" => {
            let d = promoted();
            let e = ServiceEvent {
                at: d.at.plus(61_000),
                input: ServiceInput::Tick,
            };
            (d, e)
        }
        "pending-submit" => {
            let d = drive_to(from, &base);
            let e = see(
                &d,
                world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2),
            );
            (d, e)
        }
        "pending-serving" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2));
            let e = see(&d, world(vec![serving(1, &s), serving(2, &s2)], Some(1), 2));
            (d, e)
        }
        "promoted" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2));
            d.see(world(vec![serving(1, &s), serving(2, &s2)], Some(1), 2));
            let e = see(&d, world(vec![serving(1, &s), serving(2, &s2)], Some(2), 2));
            (d, e)
        }
        "retarget" | "cancel" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![serving(1, &s), starting(2, &s2)], Some(1), 2));
            let goal = if id == "retarget" {
                respec(&s2, "c3")
            } else {
                respec(&s2, "c1")
            };
            let e = see_with(&d, &goal);
            (d, e)
        }
        "capacity-step" => {
            let d = weighted();
            let e = see(&d, d.world.clone());
            (d, e)
        }
        "weight-step" => {
            let mut d = weighted();
            d.see(d.world.clone());
            let e = ServiceEvent {
                at: d.at.plus(10_000),
                input: ServiceInput::Tick,
            };
            (d, e)
        }
        "incremental-switch" => {
            let mut d = weighted();
            d.see(d.world.clone());
            d.feed_after(10_000, ServiceInput::Tick);
            let mut w = d.world.clone();
            w.route = Some(RouteView {
                ready: true,
                weights: [(1, 0), (2, 100)].into_iter().collect(),
            });
            let e = see(&d, w);
            (d, e)
        }
        "rollback" => {
            let d = weighted();
            let e = see_with(&d, &respec(&d.spec, "c1"));
            (d, e)
        }
        "rollback-step" => {
            let d = drive_to(from, &base);
            let e = ServiceEvent {
                at: d.at.plus(10_000),
                input: ServiceInput::Tick,
            };
            (d, e)
        }
        "rollback-complete" => {
            let mut d = drive_to(from, &base);
            d.feed_after(10_000, ServiceInput::Tick);
            let mut w = d.world.clone();
            w.route = Some(RouteView {
                ready: true,
                weights: [(1, 100), (2, 0)].into_iter().collect(),
            });
            let e = see(&d, w);
            (d, e)
        }
        "rollback-cancelled" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &respec(&d.spec, "c2"));
            (d, e)
        }
        "suspend-first" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![starting(1, &s)], None, 0));
            let e = see_with(&d, &suspended(&d.spec));
            (d, e)
        }
        "suspend" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &suspended(&d.spec));
            (d, e)
        }
        "suspend-upgrading" => {
            let mut d = drive_to(from, &base);
            if from == ServicePhase::Upgrading {
                let both = world(vec![serving(1, &s), starting(2, &s2)], Some(1), 2);
                d.see(both);
            }
            let e = see_with(&d, &suspended(&d.spec));
            (d, e)
        }
        "suspending-wait" => {
            let d = drive_to(from, &base);
            let e = see(&d, d.world.clone());
            (d, e)
        }
        "suspended" | "suspended-steady" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![], None, 0));
            (d, e)
        }
        "new-suspended" => {
            let d = drive_to(from, &base);
            let e = at(&d, obs(&suspended(&s), &world(vec![], None, 0)));
            (d, e)
        }
        "resume" => {
            let d = drive_to(from, &base);
            let e = at(&d, obs(&base, &world(vec![], None, 0)));
            (d, e)
        }
        "invalid" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &broken(&d.spec));
            (d, e)
        }
        "invalid-steady" => {
            let d = drive_to(from, &base);
            let e = see(&d, d.world.clone());
            (d, e)
        }
        "invalid-new-generation" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &broken(&d.spec));
            (d, e)
        }
        "fixed" => {
            let d = drive_to(from, &base);
            let fixed = ServiceSpec {
                generation: d.spec.generation + 1,
                ..s.clone()
            };
            let e = see_with(&d, &fixed);
            (d, e)
        }
        "idle-tick" | "terminal" if id == "idle-tick" => {
            let d = drive_to(from, &base);
            let e = at(&d, ServiceInput::Tick);
            (d, e)
        }
        "command-failed" => {
            let d = drive_to(from, &base);
            let e = at(
                &d,
                ServiceInput::CommandFailed {
                    command: ServiceCommandKind::PointServices,
                    reason: "FailedToUpdateService".into(),
                    message: "conflict".into(),
                },
            );
            (d, e)
        }
        "deleted" | "terminal" => {
            let d = drive_to(from, &base);
            let e = at(&d, ServiceInput::Deleted);
            (d, e)
        }
        other => panic!("no case for row {other}"),
    }
}

/// `s` with `spec.suspend` at the next generation.
pub fn suspended(s: &ServiceSpec) -> ServiceSpec {
    ServiceSpec {
        generation: s.generation + 1,
        suspend: true,
        ..s.clone()
    }
}

/// A blue/green upgrade just promoted: cluster 2 active, cluster 1 retired
/// with its 60 s delay.
pub fn promoted() -> Driver {
    let s = spec();
    let s2 = respec(&s, "c2");
    let mut d = drive_to(ServicePhase::Upgrading, &s);
    d.see(world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2));
    d.see(world(vec![serving(1, &s), serving(2, &s2)], Some(1), 2));
    d.see(world(vec![serving(1, &s), serving(2, &s2)], Some(2), 2));
    assert_eq!(d.machine.phase(), ServicePhase::Running);
    d
}

pub mod sim;

/// A driver and the world it acts on.
#[derive(Clone, Debug)]
pub struct Harness {
    pub d: Driver,
    pub sim: sim::Sim,
}

impl Harness {
    /// A fresh machine under `spec`, nothing in the world.
    pub fn new(spec: &ServiceSpec) -> Self {
        Harness {
            d: Driver::new(spec),
            sim: sim::Sim::default(),
        }
    }

    /// Observes the modelled world under `spec` after `ms`, applies the
    /// commands, and lets time pass.
    pub fn observe_after(
        &mut self,
        ms: u64,
        spec: &ServiceSpec,
    ) -> Step<ServicePhase, ServiceCommand> {
        let world = self.sim.world();
        let step = self.d.feed_after(ms, obs(spec, &world));
        self.apply(&step, spec);
        self.sim.age();
        step
    }

    /// Observes one second later under the driver's spec.
    pub fn observe(&mut self) -> Step<ServicePhase, ServiceCommand> {
        let s = self.d.spec.clone();
        self.observe_after(1000, &s)
    }

    /// A `Tick` after `ms`; its commands are applied.
    pub fn tick_after(&mut self, ms: u64) -> Step<ServicePhase, ServiceCommand> {
        let step = self.d.feed_after(ms, ServiceInput::Tick);
        let s = self.d.spec.clone();
        self.apply(&step, &s);
        step
    }

    fn apply(&mut self, step: &Step<ServicePhase, ServiceCommand>, spec: &ServiceSpec) {
        for command in &step.commands {
            self.sim.apply(command, spec);
        }
    }

    /// Observes until `done` holds (at most `limit` observations).
    pub fn observe_until(
        &mut self,
        limit: usize,
        done: impl Fn(&Harness) -> bool,
    ) -> Vec<Step<ServicePhase, ServiceCommand>> {
        let mut steps = Vec::new();
        for _ in 0..limit {
            if done(self) {
                return steps;
            }
            steps.push(self.observe());
        }
        assert!(
            done(self),
            "not reached after {limit} observations: {:#?}",
            self.d.journal.last()
        );
        steps
    }
}
