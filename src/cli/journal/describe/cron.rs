//! How a RayCronJob's events and commands read in a timeline:
//! `Observed gen=1 schedule="*/5 * * * *" zone=UTC last=2026-12-02T06:00:00.000Z children=2`,
//! `CreateRayJob(2026-12-02T06:05:00.000Z)`.
//!
//! Invariant: pure functions of the record, like every description.

use rayop_machines::{
    Event, Millis,
    raycronjob::{CronCommand, CronInput, CronMachine},
};

use super::Describe;
use crate::cli::journal::time;

fn at(ms: Millis) -> String {
    time::rfc3339_millis(i64::try_from(ms.0).unwrap_or(i64::MAX))
}

impl Describe for CronMachine {
    fn event(event: &Event<CronInput>) -> String {
        match &event.input {
            CronInput::Observed { spec, world } => {
                let zone = spec.time_zone.as_deref().unwrap_or(&spec.operator_zone);
                let mut out = format!(
                    "Observed gen={} schedule={:?} zone={zone}",
                    spec.generation, spec.schedule
                );
                if spec.suspend {
                    out.push_str(" suspend");
                }
                let problems: Vec<String> = spec
                    .problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect();
                out.push_str(&super::invalid(&problems));
                if let Some(last) = world.last_schedule {
                    out.push_str(&format!(" last={}", at(last)));
                }
                out.push_str(&format!(" children={}", world.children.len()));
                out
            }
            CronInput::Tick => "Tick".to_owned(),
            CronInput::CommandFailed {
                command,
                reason,
                message,
            } => format!("CommandFailed {} {reason}: {message}", command.as_str()),
            CronInput::Deleted => "Deleted".to_owned(),
        }
    }

    fn command(command: &CronCommand) -> String {
        match command {
            CronCommand::CreateRayJob { tick } => format!("CreateRayJob({})", at(*tick)),
            CronCommand::PatchStatus { last_schedule } => {
                format!("PatchStatus(lastScheduleTime {})", at(*last_schedule))
            }
            CronCommand::Announce(notice) => super::announce(notice),
            CronCommand::WakeAt(when) => super::wake_at(*when),
            CronCommand::Forget => "Forget".to_owned(),
        }
    }
}
