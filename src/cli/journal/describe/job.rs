//! How a RayJob's events and commands read in a timeline:
//! `Observed gen=1 K8sJobMode cluster=Ready submitter=Running ray=RUNNING`,
//! `CreateSubmitter(attempt 1)`, `PublishStatus(Running, RUNNING, attempt 1)`.
//!
//! Invariant: pure functions of the record, like every description.

use rayop_machines::{
    Event,
    rayjob::{ClusterView, JobCommand, JobInput, JobMachine, JobWorld, RayJobView, SubmitterView},
};

use super::Describe;

impl Describe for JobMachine {
    fn event(event: &Event<JobInput>) -> String {
        match &event.input {
            JobInput::Observed { spec, world } => {
                let mut out = format!("Observed gen={} {:?}", spec.generation, spec.mode);
                if spec.suspend {
                    out.push_str(" suspend");
                }
                if spec.cluster_selector {
                    out.push_str(" clusterSelector");
                }
                if spec.user_job_id {
                    out.push_str(" jobId");
                }
                out.push_str(&super::invalid(&spec.problems));
                out.push_str(&format!(" {}", self::world(world)));
                out
            }
            JobInput::Tick => "Tick".to_owned(),
            JobInput::CommandFailed {
                command,
                reason,
                message,
            } => format!("CommandFailed {command} {reason}: {message}"),
            JobInput::Deleted => "Deleted".to_owned(),
        }
    }

    fn command(command: &JobCommand) -> String {
        let kind = command.kind();
        match command {
            JobCommand::CreateCluster { attempt }
            | JobCommand::CreateSubmitter { attempt }
            | JobCommand::SubmitHttp { attempt }
            | JobCommand::StopJob { attempt }
            | JobCommand::DeleteSubmitter { attempt }
            | JobCommand::DeleteCluster { attempt }
            | JobCommand::DeleteWorkers { attempt } => format!("{kind}(attempt {attempt})"),
            JobCommand::PublishStatus(status) => {
                let mut out = format!("PublishStatus({}", status.deployment);
                if let Some(job) = status.job_status {
                    out.push_str(&format!(", {}", job.as_str()));
                }
                if let Some(reason) = status.reason {
                    out.push_str(&format!(", {}", reason.as_str()));
                }
                out.push_str(&format!(", attempt {})", status.attempt));
                out
            }
            JobCommand::Announce(notice) => super::announce(notice),
            JobCommand::WakeAt(at) => super::wake_at(*at),
            JobCommand::DeleteSelf | JobCommand::Forget => kind.to_string(),
        }
    }
}

/// The attempt's cluster, submitter and Ray job as one observation saw them,
/// and an unreachable head of a cluster that exists.
fn world(world: &JobWorld) -> String {
    let cluster = match world.cluster {
        ClusterView::Absent => "absent",
        ClusterView::NotReady => "not-ready",
        ClusterView::Ready => "ready",
        ClusterView::Terminating => "terminating",
    };
    let submitter = match &world.submitter {
        SubmitterView::Absent => "absent".to_owned(),
        SubmitterView::Running => "running".to_owned(),
        SubmitterView::Complete => "complete".to_owned(),
        SubmitterView::Failed { reason } => format!("failed({reason})"),
        SubmitterView::Terminating => "terminating".to_owned(),
    };
    let ray = match &world.ray_job {
        RayJobView::Unknown => "unknown".to_owned(),
        RayJobView::NotFound => "not-found".to_owned(),
        RayJobView::Unreachable => "unreachable".to_owned(),
        RayJobView::Found { status, .. } => status.as_str().to_owned(),
    };
    // Without a cluster there is no head to reach: saying so is noise.
    let head = if world.head_reachable || world.cluster == ClusterView::Absent {
        ""
    } else {
        " head=unreachable"
    };
    format!("cluster={cluster} submitter={submitter} ray={ray}{head}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::journal::describe::{commands, record, results};
    use crate::record::{CommandResult, Record};
    use rayop_machines::{
        Millis,
        rayjob::{
            FailReason, JobCommandKind, JobPhase, JobSpec, JobStatusSummary, RayStatus,
            SubmissionMode,
        },
    };

    #[test]
    fn an_observation_names_the_mode_and_the_attempts_objects() {
        let spec = JobSpec {
            generation: 2,
            mode: SubmissionMode::HTTPMode,
            problems: vec!["entrypoint is empty".into(), "bad ttl".into()],
            ..JobSpec::default()
        };
        let world = JobWorld {
            cluster: ClusterView::Ready,
            submitter: SubmitterView::Failed {
                reason: "BackoffLimitExceeded".into(),
            },
            ray_job: RayJobView::Found {
                status: RayStatus::Running,
                message: String::new(),
            },
            head_reachable: false,
            published: None,
        };
        let event = Event {
            at: Millis(1),
            input: JobInput::Observed { spec, world },
        };
        assert_eq!(
            JobMachine::event(&event),
            "Observed gen=2 HTTPMode invalid(entrypoint is empty, +1 more) cluster=ready \
             submitter=failed(BackoffLimitExceeded) ray=RUNNING head=unreachable"
        );
        let tick = Event {
            at: Millis(1),
            input: JobInput::Tick,
        };
        assert_eq!(record::<JobMachine>(&Record::Event(tick)), "Tick");
    }

    #[test]
    fn commands_name_their_attempt_and_status_its_job() {
        let list = vec![
            JobCommand::CreateCluster { attempt: 2 },
            JobCommand::PublishStatus(JobStatusSummary {
                deployment: JobPhase::Failed,
                job_status: Some(RayStatus::Failed),
                reason: Some(FailReason::AppFailed),
                message: String::new(),
                attempt: 2,
                succeeded: 0,
                failed: 2,
                start_time: None,
                end_time: None,
            }),
            JobCommand::WakeAt(Millis(1_700_000_001_000)),
            JobCommand::DeleteSelf,
        ];
        assert_eq!(
            commands::<JobMachine>(&list),
            "CreateCluster(attempt 2), PublishStatus(Failed, FAILED, AppFailed, attempt 2), \
             WakeAt(2023-11-14T22:13:21.000Z), DeleteSelf"
        );
        let transition = Record::<JobMachine>::Transition {
            from: JobPhase::Running,
            to: JobPhase::Complete,
        };
        assert_eq!(record(&transition), "Running → Complete");
        assert_eq!(
            results(&[CommandResult {
                command: JobCommandKind::SubmitHttp,
                error: Some("connection refused".into()),
            }]),
            "SubmitHttp failed: connection refused"
        );
    }
}
