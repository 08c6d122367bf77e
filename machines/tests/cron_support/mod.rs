//! Builders shared by the RayCronJob machine's tests: specs, worlds, and a
//! driver that feeds events and keeps the journal.
#![allow(dead_code)]

use rayop_machines::{
    Millis, SpecProblem, Step,
    raycronjob::{CronCommand, CronEvent, CronInput, CronMachine, CronPhase, CronSpec, CronWorld},
};

/// `2026-03-07T10:00:00Z`: the RayCronJob's creation, on a whole minute.
pub const T0: Millis = Millis(1_772_877_600_000);
/// One minute in milliseconds.
pub const MIN: u64 = 60_000;

/// A valid every-minute RayCronJob created at [`T0`], in UTC.
pub fn spec() -> CronSpec {
    CronSpec {
        generation: 1,
        schedule: "* * * * *".into(),
        time_zone: None,
        operator_zone: "UTC".into(),
        suspend: false,
        creation: T0,
        problems: Vec::new(),
    }
}

/// `spec()` suspended, at `generation`.
pub fn suspended(generation: i64) -> CronSpec {
    CronSpec {
        generation,
        suspend: true,
        ..spec()
    }
}

/// `spec()` with a problem, at `generation`.
pub fn broken(generation: i64) -> CronSpec {
    CronSpec {
        generation,
        problems: vec![SpecProblem::new(
            "spec.jobTemplate.entrypoint",
            "must not be empty",
        )],
        ..spec()
    }
}

/// No status, no children.
pub fn empty() -> CronWorld {
    CronWorld::default()
}

/// An observation.
pub fn obs(spec: &CronSpec, world: CronWorld) -> CronInput {
    CronInput::Observed {
        spec: spec.clone(),
        world,
    }
}

/// The ticks a step creates.
pub fn creates(step: &Step<CronPhase, CronCommand>) -> Vec<Millis> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            CronCommand::CreateRayJob { tick } => Some(*tick),
            _ => None,
        })
        .collect()
}

/// Feeds a machine and keeps the journal.
#[derive(Clone, Debug)]
pub struct Driver {
    pub machine: CronMachine,
    pub at: Millis,
    pub journal: Vec<(CronEvent, Step<CronPhase, CronCommand>)>,
}

impl Default for Driver {
    fn default() -> Self {
        Driver {
            machine: CronMachine::new(),
            at: T0.plus(1000),
            journal: Vec::new(),
        }
    }
}

impl Driver {
    /// Feeds `input` at the driver's current moment.
    pub fn feed(&mut self, input: CronInput) -> Step<CronPhase, CronCommand> {
        self.feed_at(self.at, input)
    }

    /// Feeds `input` at `at`.
    pub fn feed_at(&mut self, at: Millis, input: CronInput) -> Step<CronPhase, CronCommand> {
        self.at = at;
        let event = CronEvent { at, input };
        let step = self.machine.step(&event);
        self.journal.push((event, step.clone()));
        step
    }

    /// The event `ms` after the current moment.
    pub fn after(&self, ms: u64, input: CronInput) -> CronEvent {
        CronEvent {
            at: self.at.plus(ms),
            input,
        }
    }
}

/// A driver in `phase`, one second after [`T0`].
pub fn drive_to(phase: CronPhase) -> Driver {
    let mut d = Driver::default();
    match phase {
        CronPhase::New => {}
        CronPhase::Scheduling => {
            d.feed(obs(&spec(), empty()));
        }
        CronPhase::Suspended => {
            d.feed(obs(&suspended(1), empty()));
        }
        CronPhase::Invalid => {
            d.feed(obs(&broken(1), empty()));
        }
        CronPhase::Deleted => {
            d.feed(CronInput::Deleted);
        }
    }
    assert_eq!(d.machine.phase(), phase);
    d
}
