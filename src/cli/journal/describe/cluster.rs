//! How a RayCluster's events and commands read in a timeline:
//! `Observed gen=3 head=ready groups small 2/2`, `EnsureGroup(small, 3)`.
//!
//! Invariant: pure functions of the record, like every description.

use rayop_machines::{ClusterMachine, Command, Event, Input, Observation, PodPhase, PodView};

use super::Describe;

impl Describe for ClusterMachine {
    fn event(event: &Event) -> String {
        self::event(event)
    }

    fn command(command: &Command) -> String {
        self::command(command)
    }
}

/// The event's kind with its key facts.
#[must_use]
pub fn event(event: &Event) -> String {
    match &event.input {
        Input::Observed { spec, world } => {
            let mut out = format!("Observed gen={}", spec.generation);
            if spec.suspend {
                out.push_str(" suspend");
            }
            if spec.gcs_fault_tolerance {
                out.push_str(" gcs-ft");
            }
            let problems: Vec<String> = spec
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect();
            out.push_str(&super::invalid(&problems));
            out.push_str(&format!(" head={}", head(world)));
            out.push_str(" groups");
            if spec.groups.is_empty() {
                out.push_str(" none");
            }
            for (i, group) in spec.groups.iter().enumerate() {
                let live = world.groups.iter().find(|g| g.name == group.name);
                let ready = live.map_or(0, |g| g.pods.iter().filter(|p| p.is_serving()).count());
                let sep = if i == 0 { " " } else { ", " };
                out.push_str(&format!(
                    "{sep}{} {ready}/{}",
                    group.name,
                    group.desired_pods(spec.suspend)
                ));
                match live {
                    Some(g) if g.applied.is_none() => out.push_str(" (not applied)"),
                    None => out.push_str(" (not applied)"),
                    Some(_) => {}
                }
            }
            for extra in world
                .groups
                .iter()
                .filter(|g| !spec.groups.iter().any(|s| s.name == g.name))
            {
                out.push_str(&format!(", {} (not in spec)", extra.name));
            }
            out
        }
        Input::Tick => "Tick".to_owned(),
        Input::CommandFailed {
            command,
            reason,
            message,
        } => format!("CommandFailed {command} {reason}: {message}"),
        Input::Deleted => "Deleted".to_owned(),
        Input::Finalizing(f) => format!(
            "Finalizing: {} workload(s), {} pod(s), cleanup Job {:?}{}",
            f.workloads,
            f.pods,
            f.job,
            if f.cleanup { "" } else { " (no cleanup)" }
        ),
    }
}

fn head(world: &Observation) -> String {
    let Some(pod) = &world.head.pod else {
        return match (&world.head.applied, &world.head.failed_create) {
            (Some(_), Some(_)) => "no-pod(FailedCreate)".to_owned(),
            (Some(_), None) => "no-pod".to_owned(),
            (None, _) => "absent".to_owned(),
        };
    };
    let mut out = pod_state(pod).to_owned();
    if pod.restarts > 0 {
        out.push_str(&format!("(restarts={})", pod.restarts));
    }
    if let Some(problem) = &pod.problem {
        out.push_str(&format!("({})", problem.reason));
    }
    out
}

fn pod_state(pod: &PodView) -> &'static str {
    if pod.terminating {
        return "terminating";
    }
    match pod.phase {
        PodPhase::Running if pod.ready => "ready",
        PodPhase::Running => "not-ready",
        PodPhase::Pending => "pending",
        PodPhase::Succeeded => "succeeded",
        PodPhase::Failed => "failed",
        PodPhase::Unknown => "unknown",
    }
}

/// One command as `Kind(args)`, e.g. `EnsureGroup(small, 3)`.
#[must_use]
pub fn command(command: &Command) -> String {
    match command {
        Command::EnsurePki => "EnsurePki".to_owned(),
        Command::EnsureHead { replicas } => format!("EnsureHead({replicas})"),
        Command::EnsureGroup { group, replicas } => match replicas {
            Some(replicas) => format!("EnsureGroup({group}, {replicas})"),
            None => format!("EnsureGroup({group}, replicas left to its HPA)"),
        },
        Command::MarkPods { group, pods } => {
            let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
            format!("MarkPods({group}: {})", names.join(", "))
        }
        Command::RemoveGroup { group } => format!("RemoveGroup({group})"),
        Command::DeletePods { reason, pods } => {
            let mut names: Vec<&str> = pods.iter().take(3).map(|p| p.name.as_str()).collect();
            let more = pods.len().saturating_sub(names.len());
            let more = if more > 0 {
                format!(", +{more} more")
            } else {
                String::new()
            };
            if names.is_empty() {
                names.push("none");
            }
            format!("DeletePods({reason:?}: {}{more})", names.join(", "))
        }
        Command::PublishStatus(status) => match &status.reason {
            Some(reason) => format!("PublishStatus({}, {reason})", status.phase),
            None => format!("PublishStatus({})", status.phase),
        },
        Command::Announce(notice) => super::announce(notice),
        Command::WakeAt(at) => super::wake_at(*at),
        Command::Forget
        | Command::AddFinalizer
        | Command::StopWorkloads
        | Command::EnsureCleanupJob
        | Command::RemoveFinalizer => command.kind().as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        cli::journal::describe::{commands, results},
        record::CommandResult,
    };
    use rayop_machines::{
        Applied, DeleteReason, DesiredSpec, GroupObservation, GroupSpec, HeadObservation, Millis,
        PodRef, StatusSummary,
    };

    fn pod(ready: bool) -> PodView {
        PodView {
            outdated: false,
            phase: PodPhase::Running,
            ready,
            ..PodView::default()
        }
    }

    #[test]
    fn an_observation_names_its_key_facts() {
        let spec = DesiredSpec {
            generation: 3,
            groups: vec![GroupSpec {
                name: "small".into(),
                replicas: 2,
                min: 1,
                max: 3,
                num_of_hosts: 1,
                ..GroupSpec::default()
            }],
            ..DesiredSpec::default()
        };
        let world = Observation {
            head: HeadObservation {
                applied: Some(Applied::new("h", 1)),
                pod: Some(pod(true)),
                failed_create: None,
            },
            groups: vec![GroupObservation {
                name: "small".into(),
                applied: Some(Applied::new("g", 2)),
                rolled_out: true,
                pods: vec![pod(true), pod(false)],
                failed_create: None,
            }],
            cleanup_finalizer: false,
            pki: None,
        };
        let e = Event {
            at: Millis(1),
            input: Input::Observed { spec, world },
        };
        assert_eq!(event(&e), "Observed gen=3 head=ready groups small 1/2");
        assert_eq!(
            event(&Event {
                at: Millis(1),
                input: Input::Observed {
                    spec: DesiredSpec::default(),
                    world: Observation::default()
                }
            }),
            "Observed gen=0 head=absent groups none"
        );
    }

    #[test]
    fn a_head_problem_is_named_in_the_timeline() {
        let mut world = Observation::default();
        world.head.applied = Some(Applied::new("h", 1));
        world.head.failed_create = Some(Box::new(rayop_machines::FailedCreate {
            reporter: "StatefulSet c-head".into(),
            message: "serviceaccount \"nope\" not found".into(),
        }));
        assert_eq!(head(&world), "no-pod(FailedCreate)");
        let mut pending = pod(false);
        pending.phase = PodPhase::Pending;
        pending.problem = Some(Box::new(rayop_machines::PodProblem {
            reason: "Unschedulable".into(),
            message: "0/1 nodes are available".into(),
            container: None,
            container_index: None,
        }));
        world.head.pod = Some(pending);
        assert_eq!(head(&world), "pending(Unschedulable)");
    }

    #[test]
    fn commands_show_their_arguments() {
        let list = vec![
            Command::EnsureHead { replicas: 1 },
            Command::EnsureGroup {
                group: "small".into(),
                replicas: Some(3),
            },
            Command::DeletePods {
                reason: DeleteReason::HeadRestarted,
                pods: (0..5)
                    .map(|i| PodRef {
                        name: format!("w-{i}"),
                        uid: format!("u-{i}"),
                    })
                    .collect(),
            },
            Command::PublishStatus(StatusSummary::default()),
            Command::WakeAt(Millis(1_700_000_001_000)),
            Command::Forget,
        ];
        assert_eq!(
            commands::<ClusterMachine>(&list),
            "EnsureHead(1), EnsureGroup(small, 3), DeletePods(HeadRestarted: w-0, w-1, w-2, +2 more), \
             PublishStatus(Pending), WakeAt(2023-11-14T22:13:21.000Z), Forget"
        );
        assert_eq!(
            results(&[
                CommandResult {
                    command: rayop_machines::CommandKind::EnsureHead,
                    error: None
                },
                CommandResult {
                    command: rayop_machines::CommandKind::EnsureGroup,
                    error: Some("forbidden".into())
                },
            ]),
            "EnsureHead ok, EnsureGroup failed: forbidden"
        );
    }
}
