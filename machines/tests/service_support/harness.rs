//! A driver and the modelled world it acts on: each observation reads the
//! model, and the step's commands are applied to it.
#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use rayop_machines::{
    Step,
    rayservice::{ServiceCommand, ServiceInput, ServicePhase, ServiceSpec},
};

use super::{Driver, obs, sim};

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
