//! Walks every row of the RayJob transition table through the real machine:
//! from each listed phase the row's event must lead to the listed phase with
//! exactly the listed command kinds. Also keeps RAYJOB_TRANSITIONS.md fresh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod job_support;

mod table_support;

use job_support::*;
use rayop_machines::rayjob::{
    ClusterView, Deletion, DeletionRule, JobCommand, JobCommandKind, JobEvent, JobInput, JobPhase,
    JobSpec, Policy, RayJobView, RayStatus, RuleCondition, SubmissionMode, SubmitterView,
    table::JOB_TABLE,
};
use table_support::{every_row_holds, published_table_is_current};

/// The machine before the row's event, and the event.
fn case(id: &str, from: JobPhase) -> (Driver, JobEvent) {
    let base = spec();
    let with = |s: JobSpec, input: fn(&JobSpec) -> JobInput| {
        let d = drive_to(from, &s);
        let e = d.next(input(&s));
        (d, e)
    };
    let tick_after = |s: &JobSpec, ms: u64| {
        let d = drive_to(from, s);
        let e = JobEvent {
            at: d.at.plus(ms),
            input: JobInput::Tick,
        };
        (d, e)
    };
    match id {
        "new-start" => with(base, |s| obs(s, absent())),
        "new-start-deadline" => with(
            JobSpec {
                active_deadline_seconds: Some(600),
                ..base
            },
            |s| obs(s, absent()),
        ),
        id if id.starts_with("adopt-") => {
            let phase = match id {
                "adopt-running" => JobPhase::Running,
                "adopt-complete" => JobPhase::Complete,
                "adopt-failed" => JobPhase::Failed,
                "adopt-initializing" => JobPhase::Initializing,
                "adopt-retrying" => JobPhase::Retrying,
                _ => JobPhase::Suspended,
            };
            let s = JobSpec {
                suspend: phase == JobPhase::Suspended,
                ..base
            };
            let d = drive_to(from, &s);
            let mut w = ready();
            w.published = Some(published(phase, 2));
            let e = d.next(obs(&s, w));
            (d, e)
        }
        "new-invalid" => with(base, |s| {
            let bad = JobSpec {
                problems: vec!["bad".into()],
                ..s.clone()
            };
            obs(&bad, absent())
        }),
        "validation-still" => with(base, |s| {
            let bad = JobSpec {
                generation: 2,
                problems: vec!["still bad".into()],
                ..s.clone()
            };
            obs(&bad, absent())
        }),
        "validation-fixed" => with(base, |s| {
            let good = JobSpec {
                generation: 2,
                ..s.clone()
            };
            obs(&good, absent())
        }),
        "init-create" => with(base, |s| obs(s, absent())),
        "invalid-during-attempt" => {
            let d = drive_to(from, &base);
            let bad = JobSpec {
                generation: 2,
                problems: vec!["runtimeEnvYAML does not parse".into()],
                ..base
            };
            // A world that asks for nothing in either phase: the cluster
            // still starting, or the submitter still submitting.
            let world = if from == JobPhase::Running {
                let mut w = ready();
                w.submitter = SubmitterView::Running;
                w
            } else {
                not_ready()
            };
            let e = d.next(obs(&bad, world));
            (d, e)
        }
        "init-selector-missing" => with(
            JobSpec {
                cluster_selector: true,
                ..base
            },
            |s| obs(s, absent()),
        ),
        "init-wait" => with(base, |s| obs(s, not_ready())),
        "init-ready-k8s" => with(base, |s| obs(s, ready())),
        "init-ready-http" => with(spec_in(SubmissionMode::HTTPMode), |s| obs(s, ready())),
        "init-ready-sidecar" => with(spec_in(SubmissionMode::SidecarMode), |s| obs(s, ready())),
        "init-ready-interactive" => with(spec_in(SubmissionMode::InteractiveMode), |s| {
            obs(s, ready())
        }),
        "waiting-job-id" => with(base, |s| {
            let s = JobSpec {
                mode: SubmissionMode::InteractiveMode,
                user_job_id: true,
                ..s.clone()
            };
            obs(&s, ready())
        }),
        "suspend" => with(base, |s| {
            let s = JobSpec {
                suspend: true,
                ..s.clone()
            };
            obs(&s, ready())
        }),
        "deadline-before-running" => {
            let s = JobSpec {
                active_deadline_seconds: Some(60),
                ..base
            };
            tick_after(&s, 60_000)
        }
        "pre-running-deadline" => {
            let s = JobSpec {
                pre_running_deadline_seconds: Some(60),
                ..base
            };
            tick_after(&s, 60_000)
        }
        "deadline-running" => {
            let s = JobSpec {
                active_deadline_seconds: Some(60),
                ..base
            };
            tick_after(&s, 60_000)
        }
        "running-poll" => with(base, |s| obs(s, running(RayStatus::Running))),
        "running-succeeded" => with(base, |s| obs(s, done(RayStatus::Succeeded))),
        "running-succeeded-shutdown" => with(
            JobSpec {
                deletion: Deletion::Shutdown { delete_self: false },
                ..base
            },
            |s| obs(s, done(RayStatus::Succeeded)),
        ),
        "running-finished-ttl" => with(
            JobSpec {
                deletion: Deletion::Shutdown { delete_self: false },
                ttl_seconds: 30,
                ..base
            },
            |s| obs(s, done(RayStatus::Succeeded)),
        ),
        "running-failed" => with(base, |s| obs(s, done(RayStatus::Failed))),
        "running-failed-retry" => with(
            JobSpec {
                backoff_limit: 2,
                ..base
            },
            |s| obs(s, done(RayStatus::Failed)),
        ),
        "running-terminal-submitter-running" => {
            with(base, |s| obs(s, running(RayStatus::Succeeded)))
        }
        "terminal-grace" => {
            let mut d = drive_to(from, &base);
            d.feed(obs(&base, running(RayStatus::Succeeded)));
            let e = JobEvent {
                at: d.at.plus(300_000),
                input: JobInput::Tick,
            };
            (d, e)
        }
        "running-unknown" => with(base, |s| {
            let mut w = running(RayStatus::Running);
            w.head_reachable = false;
            obs(s, w)
        }),
        "seen-job-lost" => {
            let s = spec_in(SubmissionMode::HTTPMode);
            let mut d = drive_to(from, &s);
            d.feed(obs(&s, running(RayStatus::Running)));
            let mut w = running(RayStatus::Running);
            w.ray_job = RayJobView::NotFound;
            let e = d.next(obs(&s, w));
            (d, e)
        }
        "unknown-too-long" => {
            let mut d = drive_to(from, &base);
            let mut w = running(RayStatus::Running);
            w.ray_job = RayJobView::Unreachable;
            d.feed(obs(&base, w));
            let e = JobEvent {
                at: d.at.plus(300_000),
                input: JobInput::Tick,
            };
            (d, e)
        }
        "submitter-failed" => with(base, |s| {
            let mut w = ready();
            w.submitter = SubmitterView::Failed {
                reason: "BackoffLimitExceeded".into(),
            };
            obs(s, w)
        }),
        "submitter-done-job-missing" => with(base, |s| {
            let mut w = ready();
            w.submitter = SubmitterView::Complete;
            obs(s, w)
        }),
        "submission-failed" => {
            let s = spec_in(SubmissionMode::HTTPMode);
            let d = drive_to(from, &s);
            let e = d.next(JobInput::CommandFailed {
                command: JobCommandKind::SubmitHttp,
                reason: "FailedSubmit".into(),
                message: "500".into(),
            });
            (d, e)
        }
        "suspending-wait" => with(base, |s| {
            let s = JobSpec {
                suspend: true,
                ..s.clone()
            };
            let mut w = absent();
            w.cluster = ClusterView::Terminating;
            obs(&s, w)
        }),
        "suspending-done" => with(base, |s| {
            let s = JobSpec {
                suspend: true,
                ..s.clone()
            };
            obs(&s, absent())
        }),
        "resume" => with(base, |s| obs(s, absent())),
        "retrying-wait" => with(base, |s| {
            let s = JobSpec {
                backoff_limit: 1,
                ..s.clone()
            };
            obs(&s, not_ready())
        }),
        "retrying-done" => with(base, |s| {
            let s = JobSpec {
                backoff_limit: 1,
                ..s.clone()
            };
            obs(&s, absent())
        }),
        "cleanup-due" => {
            let s = JobSpec {
                deletion: Deletion::Shutdown { delete_self: false },
                ttl_seconds: 30,
                ..base
            };
            tick_after(&s, 30_000)
        }
        "cleanup-workers" | "cleanup-self" => {
            let s = JobSpec {
                deletion: Deletion::Rules(vec![
                    DeletionRule {
                        policy: Policy::DeleteWorkers,
                        condition: RuleCondition::JobSucceeded,
                        ttl_seconds: 10,
                    },
                    DeletionRule {
                        policy: Policy::DeleteSelf,
                        condition: RuleCondition::JobSucceeded,
                        ttl_seconds: 60,
                    },
                ]),
                ..base
            };
            if id == "cleanup-workers" {
                tick_after(&s, 10_000)
            } else {
                let mut d = drive_to(from, &s);
                d.feed_after(10_000, JobInput::Tick);
                let e = JobEvent {
                    at: d.at.plus(50_000),
                    input: JobInput::Tick,
                };
                (d, e)
            }
        }
        "finished-steady" => with(base, |s| obs(s, absent())),
        "command-failed" => {
            let s = JobSpec {
                backoff_limit: 1,
                ..base
            };
            let d = drive_to(from, &s);
            let e = d.next(JobInput::CommandFailed {
                command: JobCommandKind::CreateCluster,
                reason: "FailedToCreateRayCluster".into(),
                message: "quota".into(),
            });
            (d, e)
        }
        "deleted-running" | "deleted" | "terminal" => with(base, |_| JobInput::Deleted),
        other => panic!("no case for row {other}"),
    }
}

#[test]
fn every_row_of_the_table_holds() {
    every_row_holds(
        JOB_TABLE,
        |id, from| {
            let (mut d, event) = case(id, from);
            d.machine.step(&event)
        },
        JobCommand::kind,
    );
}

#[test]
fn every_phase_is_left_and_entered() {
    table_support::every_phase_is_left_and_entered(JOB_TABLE, &JobPhase::ALL, JobPhase::New);
}

#[test]
fn row_ids_are_unique() {
    table_support::row_ids_are_unique(JOB_TABLE);
}

#[test]
fn the_published_table_is_current() {
    published_table_is_current(
        "RAYJOB_TRANSITIONS.md",
        &rayop_machines::rayjob::table::markdown(),
        "rayjob_edges",
    );
}

#[test]
fn a_machine_without_memory_goes_on_from_the_stored_status() {
    // A running HTTPMode job: not submitted again, followed to its end.
    let s = spec_in(SubmissionMode::HTTPMode);
    let mut d = drive_to(JobPhase::New, &s);
    let mut w = running(RayStatus::Running);
    w.published = Some(published(JobPhase::Running, 1));
    let mut issued = kinds(&d.feed(obs(&s, w)));
    issued.extend(kinds(&d.feed(obs(&s, running(RayStatus::Running)))));
    issued.extend(kinds(&d.feed(obs(&s, done(RayStatus::Succeeded)))));
    assert!(
        !issued.iter().any(|k| matches!(
            k,
            JobCommandKind::SubmitHttp | JobCommandKind::CreateCluster
        )),
        "{issued:?}"
    );
    assert_eq!(d.machine.phase(), JobPhase::Complete);
    assert_eq!(d.machine.job().succeeded, 1);

    // A finished job whose cluster is still there: the due shutdown is
    // applied again, nothing is created.
    let s = JobSpec {
        deletion: Deletion::Shutdown { delete_self: false },
        ..spec()
    };
    let mut d = drive_to(JobPhase::New, &s);
    let mut w = ready();
    w.published = Some(published(JobPhase::Complete, 1));
    let issued = kinds(&d.feed(obs(&s, w)));
    assert_eq!(
        issued,
        [
            JobCommandKind::Announce,
            JobCommandKind::DeleteCluster,
            JobCommandKind::Announce
        ]
    );
    assert_eq!(d.machine.phase(), JobPhase::Complete);
}
