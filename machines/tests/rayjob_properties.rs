//! Properties of the RayJob machine over random journals: a job is submitted
//! at most once per attempt; retries never exceed backoffLimit; the cleanup
//! is exactly what the deletion strategy says, each deletion once; the same
//! events give byte-identical serde output; a snapshot restored with serde
//! behaves like the machine it was taken from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod job_support;

use std::collections::BTreeMap;

use job_support::*;
use proptest::prelude::*;
use rayop_machines::{
    Millis,
    rayjob::{
        ClusterView, Deletion, DeletionRule, JobCommand, JobCommandKind, JobEvent, JobInput,
        JobMachine, JobPhase, JobSpec, JobWorld, Policy, RayJobView, RayStatus, RuleCondition,
        SubmissionMode, SubmitterView,
    },
};

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::DeleteNone),
        Just(Policy::DeleteWorkers),
        Just(Policy::DeleteCluster),
        Just(Policy::DeleteSelf),
    ]
}

fn deletion() -> impl Strategy<Value = Deletion> {
    let rule = (
        policy(),
        prop_oneof![
            Just(RuleCondition::JobSucceeded),
            Just(RuleCondition::JobFailed),
            Just(RuleCondition::DeploymentFailed)
        ],
        0u32..120,
    )
        .prop_map(|(policy, condition, ttl_seconds)| DeletionRule {
            policy,
            condition,
            ttl_seconds,
        });
    prop_oneof![
        Just(Deletion::Keep),
        any::<bool>().prop_map(|delete_self| Deletion::Shutdown { delete_self }),
        (policy(), policy()).prop_map(|(on_success, on_failure)| Deletion::Legacy {
            on_success,
            on_failure
        }),
        proptest::collection::vec(rule, 1..4).prop_map(Deletion::Rules),
    ]
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    (
        prop_oneof![
            Just(SubmissionMode::K8sJobMode),
            Just(SubmissionMode::HTTPMode),
            Just(SubmissionMode::InteractiveMode),
            Just(SubmissionMode::SidecarMode)
        ],
        0u32..4,
        proptest::option::of(1u32..900),
        proptest::option::of(1u32..900),
        0u32..120,
        deletion(),
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |(mode, backoff_limit, active, pre, ttl_seconds, deletion, cluster_selector)| JobSpec {
                generation: 1,
                mode,
                backoff_limit,
                active_deadline_seconds: active,
                pre_running_deadline_seconds: pre,
                ttl_seconds,
                deletion,
                cluster_selector,
                ..JobSpec::default()
            },
        )
}

fn status() -> impl Strategy<Value = RayStatus> {
    prop_oneof![
        Just(RayStatus::Pending),
        Just(RayStatus::Running),
        Just(RayStatus::Succeeded),
        Just(RayStatus::Failed),
        Just(RayStatus::Stopped),
    ]
}

fn world() -> impl Strategy<Value = JobWorld> {
    (
        prop_oneof![
            1 => Just(ClusterView::Absent),
            1 => Just(ClusterView::NotReady),
            3 => Just(ClusterView::Ready),
            1 => Just(ClusterView::Terminating)
        ],
        prop_oneof![
            1 => Just(SubmitterView::Absent),
            2 => Just(SubmitterView::Running),
            1 => Just(SubmitterView::Complete),
            1 => Just(SubmitterView::Failed {
                reason: "BackoffLimitExceeded".into()
            }),
            1 => Just(SubmitterView::Terminating)
        ],
        prop_oneof![
            1 => Just(RayJobView::Unknown),
            1 => Just(RayJobView::NotFound),
            1 => Just(RayJobView::Unreachable),
            3 => status().prop_map(|status| RayJobView::Found {
                status,
                message: String::new()
            })
        ],
        proptest::bool::weighted(0.85),
    )
        .prop_map(|(cluster, submitter, ray_job, head_reachable)| JobWorld {
            cluster,
            submitter,
            ray_job,
            head_reachable,
            published: None,
        })
}

/// An input before the spec is applied: the spec's varying flags ride along.
#[derive(Clone, Debug)]
enum Step {
    Observed {
        world: JobWorld,
        suspend: bool,
        user_job_id: bool,
    },
    Tick,
    Failed(JobCommandKind),
}

fn step() -> impl Strategy<Value = (u64, Step)> {
    (
        0u64..200_000,
        prop_oneof![
            8 => (world(), proptest::bool::weighted(0.1), any::<bool>()).prop_map(
                |(world, suspend, user_job_id)| Step::Observed {
                    world,
                    suspend,
                    user_job_id
                }
            ),
            2 => Just(Step::Tick),
            1 => prop_oneof![
                Just(JobCommandKind::CreateCluster),
                Just(JobCommandKind::CreateSubmitter),
                Just(JobCommandKind::SubmitHttp),
                Just(JobCommandKind::DeleteCluster),
            ]
            .prop_map(Step::Failed),
        ],
    )
}

fn events(spec: &JobSpec, steps: &[(u64, Step)]) -> Vec<JobEvent> {
    let mut at = Millis(1_000_000);
    let mut out: Vec<JobEvent> = steps
        .iter()
        .map(|(gap, s)| {
            at = at.plus(*gap);
            let input = match s {
                Step::Observed {
                    world,
                    suspend,
                    user_job_id,
                } => JobInput::Observed {
                    spec: JobSpec {
                        suspend: *suspend,
                        user_job_id: *user_job_id,
                        ..spec.clone()
                    },
                    world: world.clone(),
                },
                Step::Tick => JobInput::Tick,
                Step::Failed(command) => JobInput::CommandFailed {
                    command: *command,
                    reason: "Failed".into(),
                    message: "boom".into(),
                },
            };
            JobEvent { at, input }
        })
        .collect();
    // Late enough for every deadline and window.
    out.push(JobEvent {
        at: at.plus(1_000_000_000),
        input: JobInput::Tick,
    });
    out
}

type Journal = Vec<(JobPhase, JobPhase, Vec<JobCommand>)>;

fn run(machine: &mut JobMachine, events: &[JobEvent]) -> Journal {
    events
        .iter()
        .map(|e| {
            let s = machine.step(e);
            (s.from, s.to, s.commands)
        })
        .collect()
}

/// Like an interpreter that honours every `WakeAt`: due timers are
/// delivered as Ticks at their moment, between the events and after the last.
fn run_on_time(machine: &mut JobMachine, events: &[JobEvent]) -> Journal {
    let mut journal = Journal::new();
    let deliver_until = |machine: &mut JobMachine, journal: &mut Journal, until: Millis| {
        for _ in 0..16 {
            match machine.next_wake() {
                Some(at) if at < until => {
                    journal.extend(run(
                        machine,
                        &[JobEvent {
                            at,
                            input: JobInput::Tick,
                        }],
                    ));
                }
                _ => break,
            }
        }
    };
    for event in events {
        deliver_until(machine, &mut journal, event.at);
        journal.extend(run(machine, std::slice::from_ref(event)));
    }
    deliver_until(machine, &mut journal, Millis(u64::MAX));
    journal
}

fn attempt_of(c: &JobCommand) -> Option<u32> {
    match c {
        JobCommand::CreateSubmitter { attempt } | JobCommand::SubmitHttp { attempt } => {
            Some(*attempt)
        }
        _ => None,
    }
}

/// What the deletion strategy says should happen after the job ended in
/// `phase` with `status`, written independently of the machine's planner.
fn expected_cleanup(spec: &JobSpec, phase: JobPhase, status: Option<RayStatus>) -> Vec<Policy> {
    if spec.cluster_selector {
        return Vec::new();
    }
    let planned: Vec<(Policy, u32)> = match &spec.deletion {
        Deletion::Keep => vec![],
        Deletion::Shutdown { delete_self: true } => vec![(Policy::DeleteSelf, spec.ttl_seconds)],
        Deletion::Shutdown { delete_self: false } => {
            vec![(Policy::DeleteCluster, spec.ttl_seconds)]
        }
        Deletion::Legacy {
            on_success,
            on_failure,
        } => match status {
            Some(RayStatus::Succeeded) => vec![(*on_success, spec.ttl_seconds)],
            Some(RayStatus::Failed) => vec![(*on_failure, spec.ttl_seconds)],
            _ => vec![],
        },
        Deletion::Rules(rules) => rules
            .iter()
            .filter(|r| {
                matches!(
                    (r.condition, status, phase),
                    (RuleCondition::JobSucceeded, Some(RayStatus::Succeeded), _)
                        | (RuleCondition::JobFailed, Some(RayStatus::Failed), _)
                        | (RuleCondition::DeploymentFailed, _, JobPhase::Failed)
                )
            })
            .map(|r| (r.policy, r.ttl_seconds))
            .collect(),
    };
    // A policy runs unless a stronger one is due no later than it.
    let mut out: Vec<Policy> = planned
        .iter()
        .filter(|(p, ttl)| {
            *p != Policy::DeleteNone && !planned.iter().any(|(q, t)| q > p && t <= ttl)
        })
        .map(|(p, _)| *p)
        .collect();
    out.sort();
    out.dedup();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn submitted_at_most_once_per_attempt(spec in job_spec(), steps in proptest::collection::vec(step(), 1..40)) {
        let mut m = JobMachine::new();
        let journal = run(&mut m, &events(&spec, &steps));
        let mut per_attempt: BTreeMap<u32, u32> = BTreeMap::new();
        for (_, _, commands) in &journal {
            for a in commands.iter().filter_map(attempt_of) {
                *per_attempt.entry(a).or_default() += 1;
            }
        }
        for (attempt, n) in per_attempt {
            prop_assert!(n <= 1, "attempt {attempt} submitted {n} times: {journal:#?}");
        }
    }

    #[test]
    fn retries_never_exceed_the_backoff_limit(spec in job_spec(), steps in proptest::collection::vec(step(), 1..40)) {
        let mut m = JobMachine::new();
        let journal = run(&mut m, &events(&spec, &steps));
        let retries = journal
            .iter()
            .filter(|(from, to, _)| *to == JobPhase::Retrying && *from != JobPhase::Retrying)
            .count();
        prop_assert!(retries <= spec.backoff_limit as usize, "{retries} retries, limit {}", spec.backoff_limit);
        prop_assert!(m.job().failed <= spec.backoff_limit + 1);
    }

    #[test]
    fn cleanup_is_what_the_strategy_says_once(spec in job_spec(), steps in proptest::collection::vec(step(), 1..40)) {
        let mut m = JobMachine::new();
        let journal = run_on_time(&mut m, &events(&spec, &steps));
        prop_assert_eq!(m.next_wake(), None);
        let mut applied: Vec<Policy> = journal
            .iter()
            .filter(|(_, to, _)| to.is_finished())
            .flat_map(|(_, _, commands)| commands.iter())
            .filter_map(|c| match c {
                JobCommand::DeleteWorkers { .. } => Some(Policy::DeleteWorkers),
                JobCommand::DeleteCluster { .. } => Some(Policy::DeleteCluster),
                JobCommand::DeleteSelf => Some(Policy::DeleteSelf),
                _ => None,
            })
            .collect();
        let phase = m.phase();
        if phase.is_finished() {
            let once = applied.len();
            applied.sort();
            applied.dedup();
            prop_assert_eq!(once, applied.len(), "a deletion repeated");
            prop_assert_eq!(applied, expected_cleanup(&spec, phase, m.job().job_status));
        } else {
            prop_assert!(applied.is_empty(), "cleanup before the end: {applied:?}");
        }
    }

    #[test]
    fn the_same_events_give_byte_identical_output(spec in job_spec(), steps in proptest::collection::vec(step(), 1..40)) {
        let events = events(&spec, &steps);
        let mut a = JobMachine::new();
        let mut b = JobMachine::new();
        let ja = serde_json::to_string(&run(&mut a, &events)).unwrap();
        let jb = serde_json::to_string(&run(&mut b, &events)).unwrap();
        prop_assert_eq!(ja, jb);
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    }

    #[test]
    fn a_restored_snapshot_behaves_the_same(spec in job_spec(), steps in proptest::collection::vec(step(), 1..40), cut in 0usize..40) {
        let events = events(&spec, &steps);
        let cut = cut.min(events.len());
        let mut original = JobMachine::new();
        run(&mut original, &events[..cut]);
        let snapshot = serde_json::to_string(&original).unwrap();
        let mut restored: JobMachine = serde_json::from_str(&snapshot).unwrap();
        prop_assert_eq!(&restored, &original);
        prop_assert_eq!(restored.resume(), original.resume());
        let rest_original = run(&mut original, &events[cut..]);
        let rest_restored = run(&mut restored, &events[cut..]);
        prop_assert_eq!(rest_original, rest_restored);
        prop_assert_eq!(serde_json::to_string(&original).unwrap(), serde_json::to_string(&restored).unwrap());
    }
}

#[test]
fn an_http_job_lost_after_a_head_restart_is_never_resubmitted() {
    let s = spec_in(SubmissionMode::HTTPMode);
    let mut d = drive_to(JobPhase::Running, &s);
    d.feed(obs(&s, running(RayStatus::Running)));
    // The head restarted: the dashboard no longer knows the job.
    let mut submits = 0;
    for _ in 0..400 {
        let step = d.feed(obs(&s, ready()));
        submits += step
            .commands
            .iter()
            .filter(|c| c.kind() == JobCommandKind::SubmitHttp)
            .count();
    }
    assert_eq!(submits, 0);
    assert_eq!(d.machine.phase(), JobPhase::Failed);
    assert_eq!(
        d.machine.job().reason,
        Some(rayop_machines::rayjob::FailReason::JobLost)
    );
}

#[test]
fn a_restarted_operator_does_not_resubmit() {
    let s = spec_in(SubmissionMode::HTTPMode);
    let d = drive_to(JobPhase::Running, &s);
    let snapshot = serde_json::to_string(&d.machine).unwrap();
    let mut restored: JobMachine = serde_json::from_str(&snapshot).unwrap();
    let step = restored.step(&d.next(obs(&s, ready())));
    assert!(
        step.commands
            .iter()
            .all(|c| c.kind() != JobCommandKind::SubmitHttp),
        "{:?}",
        step.commands
    );
}
