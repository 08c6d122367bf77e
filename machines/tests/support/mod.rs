//! Scenario builders shared by the machine's tests: specs, worlds and events.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use rayop_machines::{
    Applied, ClusterMachine, CommandKind, DesiredSpec, Event, GroupObservation, GroupSpec,
    HeadObservation, Input, Millis, Observation, Phase, PodPhase, PodView, SpecProblem, Step,
};

/// A fixed start time for every scenario.
pub const T0: Millis = Millis(1_700_000_000_000);

/// The seed's shape: one group `small`, 2 replicas in [1, 3].
pub fn spec() -> DesiredSpec {
    DesiredSpec {
        generation: 1,
        head_hash: "head-v1".into(),
        groups: vec![group("small", 2, 1, 3)],
        ..DesiredSpec::default()
    }
}

pub fn group(name: &str, replicas: i32, min: i32, max: i32) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        replicas,
        min,
        max,
        num_of_hosts: 1,
        suspend: false,
        hash: format!("{name}-v1"),
        ..GroupSpec::default()
    }
}

pub fn invalid(mut spec: DesiredSpec) -> DesiredSpec {
    spec.generation += 1;
    spec.problems = vec![SpecProblem {
        field: "spec.workerGroupSpecs[0].minReplicas".into(),
        message: "must be <= maxReplicas".into(),
    }];
    spec
}

pub fn pod(name: &str, uid: &str, ready: bool, created: Millis) -> PodView {
    PodView {
        outdated: false,
        name: name.into(),
        uid: uid.into(),
        phase: PodPhase::Running,
        ready,
        restarts: 0,
        created,
        terminating: false,
        marked: false,
        problem: None,
    }
}

/// Every object applied as `spec` wants it, no pods yet.
pub fn applied(spec: &DesiredSpec) -> Observation {
    let suspended = spec.suspend;
    Observation {
        head: HeadObservation {
            applied: Some(Applied::new(spec.head_hash.clone(), i32::from(!suspended))),
            pod: None,
            failed_create: None,
        },
        groups: spec
            .groups
            .iter()
            .map(|g| GroupObservation {
                name: g.name.clone(),
                applied: Some(Applied::new(g.hash.clone(), g.desired_pods(suspended))),
                rolled_out: true,
                pods: Vec::new(),
                failed_create: None,
            })
            .collect(),
        cleanup_finalizer: false,
        pki: None,
    }
}

/// `world` with a serving head pod of this UID.
pub fn with_head(mut world: Observation, uid: &str) -> Observation {
    world.head.pod = Some(pod("c-head-0", uid, true, T0));
    world
}

/// `world` with `n` ready pods in `group`, created at `created`.
pub fn with_workers(mut world: Observation, group: &str, n: usize, created: Millis) -> Observation {
    if let Some(g) = world.groups.iter_mut().find(|g| g.name == group) {
        g.pods = (0..n)
            .map(|i| {
                pod(
                    &format!("c-{group}-{i}"),
                    &format!("{group}-uid-{i}"),
                    true,
                    created,
                )
            })
            .collect();
    }
    world
}

/// The world at the spec's desired state, head UID `head-1`.
pub fn converged(spec: &DesiredSpec) -> Observation {
    let mut world = with_head(applied(spec), "head-1");
    for g in &spec.groups {
        let n = usize::try_from(g.desired_pods(spec.suspend)).unwrap();
        world = with_workers(world, &g.name, n, T0);
    }
    world
}

pub fn observed(at: Millis, spec: &DesiredSpec, world: &Observation) -> Event {
    Event {
        at,
        input: Input::Observed {
            spec: spec.clone(),
            world: world.clone(),
        },
    }
}

pub fn at(seconds: u64) -> Millis {
    T0.plus(seconds * 1000)
}

/// A machine driven into `phase` by a plausible history, and the time of its
/// last event.
pub fn drive_to(phase: Phase) -> (ClusterMachine, Millis) {
    let s = spec();
    let mut m = ClusterMachine::new();
    let mut t = 0;
    let mut feed = |m: &mut ClusterMachine, e: Event| {
        let step = m.step(&e);
        t += 1;
        step
    };
    match phase {
        Phase::Pending => {}
        Phase::HeadStarting => {
            feed(&mut m, observed(at(1), &s, &Observation::default()));
        }
        Phase::Scaling => {
            feed(&mut m, observed(at(1), &s, &Observation::default()));
            feed(
                &mut m,
                observed(at(2), &s, &with_head(applied(&s), "head-1")),
            );
        }
        Phase::Ready => {
            feed(&mut m, observed(at(1), &s, &Observation::default()));
            feed(&mut m, observed(at(2), &s, &converged(&s)));
            feed(&mut m, observed(at(3), &s, &converged(&s)));
        }
        Phase::Recovering => {
            feed(&mut m, observed(at(1), &s, &Observation::default()));
            feed(&mut m, observed(at(2), &s, &converged(&s)));
            feed(&mut m, observed(at(3), &s, &converged(&s)));
            let mut lost = converged(&s);
            lost.head.pod = None;
            feed(&mut m, observed(at(4), &s, &lost));
        }
        Phase::Suspended => {
            let mut suspended = spec();
            suspended.suspend = true;
            feed(&mut m, observed(at(1), &suspended, &Observation::default()));
            feed(&mut m, observed(at(2), &suspended, &applied(&suspended)));
        }
        Phase::Deleted => {
            feed(&mut m, observed(at(1), &s, &Observation::default()));
            feed(
                &mut m,
                Event {
                    at: at(2),
                    input: Input::Deleted,
                },
            );
        }
    }
    assert_eq!(m.phase(), phase, "drive_to could not reach {phase}");
    let last = at(u64::try_from(t).unwrap());
    (m, last)
}

/// Command kinds of a step, each once, in first-emission order.
pub fn kinds(step: &Step) -> Vec<CommandKind> {
    let mut out: Vec<CommandKind> = Vec::new();
    for c in &step.commands {
        if !out.contains(&c.kind()) {
            out.push(c.kind());
        }
    }
    out
}

/// The event that exercises `edge_id` on a machine in `from`, driven there by
/// `drive_to` with its last event at `last`.
pub fn event_for(edge_id: &str, from: Phase, last: Millis) -> Event {
    let s = spec();
    let next = last.plus(1_000);
    match edge_id {
        "pending-invalid" | "became-invalid" => observed(next, &invalid(spec()), &converged(&s)),
        "pending-start" => observed(next, &s, &Observation::default()),
        "pending-adopt-scaling" => {
            let mut world = with_head(applied(&s), "head-1");
            world.groups.clear();
            observed(next, &s, &world)
        }
        "pending-adopt-ready" | "scaled" | "steady" => observed(next, &s, &converged(&s)),
        "suspend" => {
            let mut suspended = spec();
            suspended.suspend = true;
            observed(next, &suspended, &converged(&s))
        }
        "head-ready" => observed(next, &s, &converged(&s)),
        "head-failed-retry" => {
            let mut world = converged(&s);
            let mut head = pod("c-head-0", "head-9", false, last);
            head.phase = PodPhase::Failed;
            world.head.pod = Some(head);
            observed(next, &s, &world)
        }
        "head-stuck" => Event {
            at: last.plus(rayop_machines::backoff::STUCK_AFTER_MS),
            input: Input::Tick,
        },
        "head-lost" => {
            let mut world = converged(&s);
            world.head.pod = None;
            observed(next, &s, &world)
        }
        "spec-changed" => {
            let mut bigger = spec();
            bigger.generation = 2;
            bigger.groups[0].replicas = 3;
            observed(next, &bigger, &converged(&s))
        }
        "worker-lost" => {
            let mut world = converged(&s);
            world.groups[0].pods.pop();
            observed(next, &s, &world)
        }
        "head-back-restart-workers" => {
            let world = with_head(converged(&s), "head-2");
            observed(next, &s, &world)
        }
        "head-back-ft" => {
            let mut ft = spec();
            ft.gcs_fault_tolerance = true;
            observed(next, &ft, &with_head(converged(&s), "head-2"))
        }
        "resume" => {
            let mut suspended = spec();
            suspended.suspend = true;
            observed(next, &s, &applied(&suspended))
        }
        "command-failed" => Event {
            at: next,
            input: Input::CommandFailed {
                command: CommandKind::EnsureGroup,
                reason: "FailedApplyWorkers".into(),
                message: "forbidden".into(),
            },
        },
        "deleted" => Event {
            at: next,
            input: Input::Deleted,
        },
        "terminal" => observed(next, &s, &Observation::default()),
        other => panic!(
            "edge {other} (from {from}) has no scenario: add one to event_for in machines/tests/support"
        ),
    }
}
