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

/// The kinds of a step's commands.
pub fn kinds(step: &Step<ServicePhase, ServiceCommand>) -> Vec<ServiceCommandKind> {
    step.commands.iter().map(ServiceCommand::kind).collect()
}

mod cases;
mod harness;
pub mod sim;

pub use cases::*;
#[allow(unused_imports)]
pub use harness::Harness;
