//! Fuzzing the machine: millions of steps over random event sequences.
//!
//! `properties.rs` shrinks failures with proptest but runs a few thousand
//! steps; this file drives at least 1,000,000 steps per `cargo test` with a
//! small inline PRNG (fixed seeds, so a failure prints the seed and the run
//! repeats exactly). Half of the runs play against a world model that
//! follows the machine's commands (so Ready, scale-downs and recovery are
//! reached often); the rest observe random worlds, including absurd values
//! (negative or huge replicas, `min > max`, many hosts, empty names).
//!
//! Checked after every step: no panic; never two heads; head pods deleted
//! only when observed finished, by UID; an invalid spec changes no object;
//! HPA-owned groups never get replicas; Ready only with a serving head and
//! every group at its desired count; no commands after Deleted. On sampled
//! runs: replay from the serialized start is byte-identical.
//!
//! `RAYOP_FUZZ_STEPS=<n>` sets the step budget (default 1,000,000);
//! `RAYOP_FUZZ_SEED=<n>` the first seed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use rayop_machines::{
    Applied, ClusterMachine, Command, CommandKind, DeleteReason, DesiredSpec, Event, FailedCreate,
    GroupObservation, GroupSpec, HeadObservation, Input, Millis, Observation, Phase, PodPhase,
    PodProblem, PodView, Removal, SpecProblem, Step,
};

const T0: Millis = Millis(1_700_000_000_000);

/// SplitMix64: fast, deterministic, good enough for fuzzing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn small(&mut self, n: i32) -> i32 {
        i32::try_from(self.below(u64::try_from(n).unwrap())).unwrap()
    }
    /// Mostly small, sometimes absurd.
    fn count(&mut self, absurd: bool) -> i32 {
        if absurd && self.chance(20) {
            match self.below(5) {
                0 => i32::MAX,
                1 => -1,
                2 => i32::MIN,
                3 => 1_000_000,
                _ => i32::from_ne_bytes(self.next().to_ne_bytes()[..4].try_into().unwrap()),
            }
        } else {
            self.small(6)
        }
    }
}

const GROUPS: [&str; 3] = ["a", "b", "c"];

fn random_group(rng: &mut Rng, name: &str, absurd: bool) -> GroupSpec {
    let min = if absurd {
        rng.count(true)
    } else {
        rng.small(3)
    };
    let max = if absurd {
        rng.count(true)
    } else {
        min + rng.small(5)
    };
    let v = rng.below(2);
    GroupSpec {
        name: name.into(),
        replicas: rng.count(absurd),
        min,
        max,
        num_of_hosts: if absurd && rng.chance(10) {
            rng.count(true)
        } else {
            1 + rng.small(2)
        },
        suspend: rng.chance(10),
        hash: format!("{name}-v{v}"),
        external_replicas: rng.chance(15),
        autoscaled: rng.chance(40),
        workers_to_delete: (0..rng.below(3))
            .map(|_| format!("{name}-{}", rng.below(5)))
            .collect(),
        removal: if rng.chance(50) {
            Removal::MarkedFirst
        } else {
            Removal::HighestOrdinals
        },
        replace_outdated: rng.chance(20),
    }
}

fn random_spec(rng: &mut Rng, generation: i64, absurd: bool) -> DesiredSpec {
    let n = 1 + rng.below(if absurd { 3 } else { 2 });
    DesiredSpec {
        generation,
        problems: if rng.chance(8) {
            vec![SpecProblem {
                field: "spec.workerGroupSpecs[0].minReplicas".into(),
                message: "bad".into(),
            }]
        } else {
            Vec::new()
        },
        adjustments: Vec::new(),
        suspend: rng.chance(7),
        gcs_fault_tolerance: rng.chance(50),
        redis_cleanup: false,
        head_hash: format!("head-v{}", rng.below(2)),
        groups: GROUPS[..usize::try_from(n).unwrap().min(GROUPS.len())]
            .iter()
            .map(|g| random_group(rng, g, absurd))
            .collect(),
        head_stuck_after_ms: rng.chance(5).then(|| rng.below(600_000)),
        pki_hash: None,
    }
}

fn random_phase(rng: &mut Rng) -> PodPhase {
    match rng.below(9) {
        0 => PodPhase::Pending,
        1 => PodPhase::Failed,
        2 => PodPhase::Succeeded,
        _ => PodPhase::Running,
    }
}

fn random_pod(rng: &mut Rng, prefix: &str, now: Millis) -> PodView {
    let id = rng.below(5);
    let restarts = rng.small(3);
    PodView {
        outdated: false,
        name: format!("{prefix}-{id}"),
        uid: format!("{prefix}-uid-{id}-{restarts}"),
        phase: random_phase(rng),
        ready: rng.chance(60),
        restarts,
        created: Millis(now.0.saturating_sub(rng.below(200_000))),
        terminating: rng.chance(10),
        marked: rng.chance(30),
        problem: rng.chance(20).then(|| Box::new(random_problem(rng))),
    }
}

fn random_problem(rng: &mut Rng) -> PodProblem {
    let reasons = [
        "Unschedulable",
        "ImagePullBackOff",
        "ErrImagePull",
        "CrashLoopBackOff",
    ];
    let reason = reasons[usize::try_from(rng.below(4)).unwrap()];
    PodProblem {
        reason: reason.into(),
        message: format!("message {}", rng.below(3)),
        container: (reason != "Unschedulable").then(|| "ray-worker".into()),
        container_index: rng.chance(80).then_some(0),
    }
}

fn random_applied(rng: &mut Rng, hashes: &[String], absurd: bool) -> Option<Applied> {
    rng.chance(80).then(|| Applied {
        hash: if rng.chance(5) {
            "mixed".into()
        } else {
            hashes[usize::try_from(rng.below(hashes.len() as u64)).unwrap()].clone()
        },
        replicas: rng.count(absurd),
        drifted: if rng.chance(5) {
            vec![rayop_machines::DriftedField {
                kind: "StatefulSet".into(),
                name: "x".into(),
                field: "spec.template.spec.containers[name=ray-head].image".into(),
                manager: "kubectl-set".into(),
            }]
        } else {
            Vec::new()
        },
    })
}

fn random_world(rng: &mut Rng, now: Millis, absurd: bool) -> Observation {
    let head_hashes = ["head-v0".to_owned(), "head-v1".to_owned()];
    let head = HeadObservation {
        applied: random_applied(rng, &head_hashes, absurd),
        pod: rng.chance(80).then(|| random_pod(rng, "head", now)),
        failed_create: rng.chance(10).then(|| {
            Box::new(FailedCreate {
                reporter: "StatefulSet c-head".into(),
                message: "serviceaccount \"nope\" not found".into(),
            })
        }),
    };
    let n = rng.below(4);
    let groups = GROUPS
        .iter()
        .take(usize::try_from(n).unwrap())
        .map(|g| {
            let hashes = [format!("{g}-v0"), format!("{g}-v1")];
            GroupObservation {
                name: (*g).into(),
                applied: random_applied(rng, &hashes, absurd),
                rolled_out: rng.chance(60),
                pods: (0..rng.below(6)).map(|_| random_pod(rng, g, now)).collect(),
                failed_create: None,
            }
        })
        .collect();
    Observation {
        head,
        groups,
        cleanup_finalizer: false,
        pki: None,
    }
}

/// A world that follows the machine's commands, with random disturbances.
#[derive(Default)]
struct Model {
    head: Option<(String, i32)>,
    head_pod: Option<PodView>,
    groups: Vec<(String, String, i32, Vec<PodView>)>,
    uid: u64,
}

impl Model {
    fn fresh_pod(&mut self, name: String, now: Millis) -> PodView {
        self.uid += 1;
        PodView {
            outdated: false,
            uid: format!("{name}-uid{}", self.uid),
            name,
            phase: PodPhase::Running,
            ready: true,
            restarts: 0,
            created: now,
            terminating: false,
            marked: false,
            problem: None,
        }
    }

    fn apply(&mut self, spec: &DesiredSpec, commands: &[Command], now: Millis) {
        for c in commands {
            match c {
                Command::EnsureHead { replicas } => {
                    self.head = Some((spec.head_hash.clone(), *replicas));
                }
                Command::EnsureGroup { group, replicas } => {
                    let Some(g) = spec.groups.iter().find(|g| &g.name == group) else {
                        continue;
                    };
                    let current = self
                        .groups
                        .iter()
                        .position(|(n, ..)| n == group)
                        .map(|i| self.groups.remove(i));
                    let old_replicas = current.as_ref().map_or(0, |c| c.2);
                    let pods = current.map(|c| c.3).unwrap_or_default();
                    let r = replicas.unwrap_or(old_replicas);
                    self.groups.push((group.clone(), g.hash.clone(), r, pods));
                }
                Command::RemoveGroup { group } => self.groups.retain(|(n, ..)| n != group),
                Command::EnsurePki => {}
                Command::DeletePods { pods, .. } => {
                    for p in pods {
                        if self.head_pod.as_ref().is_some_and(|h| h.uid == p.uid) {
                            self.head_pod = None;
                        }
                        for g in &mut self.groups {
                            g.3.retain(|q| q.uid != p.uid);
                        }
                    }
                }
                Command::MarkPods { pods, .. } => {
                    for g in &mut self.groups {
                        for q in &mut g.3 {
                            if pods.iter().any(|p| p.uid == q.uid) {
                                q.marked = true;
                            }
                        }
                    }
                }
                Command::PublishStatus(_)
                | Command::Announce(_)
                | Command::WakeAt(_)
                | Command::Forget
                | Command::AddFinalizer
                | Command::StopWorkloads
                | Command::EnsureCleanupJob
                | Command::RemoveFinalizer => {}
            }
        }
        // The "kubelet": workloads converge towards their replicas.
        if let Some((_, r)) = &self.head {
            if *r >= 1 && self.head_pod.is_none() {
                self.head_pod = Some(self.fresh_pod("head-0".into(), now));
            } else if *r == 0 {
                self.head_pod = None;
            }
        }
        let mut groups = std::mem::take(&mut self.groups);
        for (name, _, r, pods) in &mut groups {
            let hosts = spec
                .groups
                .iter()
                .find(|g| &g.name == name)
                .map_or(1, |g| g.num_of_hosts.clamp(1, 4));
            let want = usize::try_from((*r).clamp(0, 8).saturating_mul(hosts)).unwrap();
            pods.sort_by(|a, b| a.name.cmp(&b.name));
            pods.truncate(want);
            while pods.len() < want {
                let name = format!("{name}-{}", pods.len());
                let p = self.fresh_pod(name, now);
                pods.push(p);
            }
        }
        self.groups = groups;
    }

    fn disturb(&mut self, rng: &mut Rng, now: Millis) {
        if rng.chance(5) {
            self.head_pod = None;
        }
        if rng.chance(3)
            && let Some(p) = &mut self.head_pod
        {
            p.phase = if rng.chance(50) {
                PodPhase::Failed
            } else {
                PodPhase::Succeeded
            };
        }
        if rng.chance(5)
            && let Some(p) = &mut self.head_pod
        {
            p.ready = !p.ready;
        }
        for g in &mut self.groups {
            if rng.chance(5) && !g.3.is_empty() {
                let i = usize::try_from(rng.below(g.3.len() as u64)).unwrap();
                g.3.remove(i);
            }
            if rng.chance(3) {
                g.3.push(random_pod(rng, "a", now));
            }
        }
    }

    fn world(&self, rng: &mut Rng) -> Observation {
        Observation {
            head: HeadObservation {
                applied: self.head.as_ref().map(|(h, r)| Applied::new(h.clone(), *r)),
                pod: self.head_pod.clone(),
                failed_create: None,
            },
            groups: self
                .groups
                .iter()
                .map(|(name, hash, r, pods)| GroupObservation {
                    name: name.clone(),
                    applied: Some(Applied::new(hash.clone(), *r)),
                    rolled_out: rng.chance(90),
                    pods: pods.clone(),
                    failed_create: None,
                })
                .collect(),
            cleanup_finalizer: false,
            pki: None,
        }
    }
}

fn check(before: Phase, event: &Event, step: &Step, seed: u64) {
    let ctx = || format!("seed {seed}, event {event:?}, step {step:?}");
    let heads: Vec<i32> = step
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::EnsureHead { replicas } => Some(*replicas),
            _ => None,
        })
        .collect();
    assert!(heads.len() <= 1, "two EnsureHead in one step: {}", ctx());
    assert!(
        heads.iter().all(|r| *r == 0 || *r == 1),
        "head replicas {heads:?}: {}",
        ctx()
    );
    if before == Phase::Deleted {
        assert!(
            step.commands.is_empty(),
            "commands after Deleted: {}",
            ctx()
        );
        assert_eq!(step.to, Phase::Deleted, "left Deleted: {}", ctx());
    }
    let Input::Observed { spec, world } = &event.input else {
        return;
    };
    for c in &step.commands {
        if let Command::DeletePods {
            reason: DeleteReason::HeadPodFinished,
            pods,
        } = c
        {
            let head = world.head.pod.as_ref();
            assert!(
                head.is_some_and(PodView::is_finished),
                "deleted a head pod that was not observed finished: {}",
                ctx()
            );
            assert!(
                pods.len() == 1 && pods[0].uid == head.unwrap().uid,
                "head delete by the wrong UID: {}",
                ctx()
            );
        }
    }
    if !spec.problems.is_empty() {
        assert!(
            !step.commands.iter().any(|c| matches!(
                c,
                Command::EnsureHead { .. }
                    | Command::EnsureGroup { .. }
                    | Command::RemoveGroup { .. }
                    | Command::DeletePods { .. }
                    | Command::MarkPods { .. }
            )),
            "invalid spec changed objects: {}",
            ctx()
        );
    }
    for c in &step.commands {
        if let Command::EnsureGroup { group, replicas } = c
            && let Some(g) = spec.groups.iter().find(|g| &g.name == group)
            && g.external_replicas
            && !spec.suspend
        {
            assert!(
                replicas.is_none(),
                "wrote replicas of HPA-owned group {group}: {}",
                ctx()
            );
        }
    }
    if step.to == Phase::Ready {
        assert!(
            world.head.pod.as_ref().is_some_and(PodView::is_serving),
            "Ready without a serving head: {}",
            ctx()
        );
        for g in &spec.groups {
            let live = world.groups.iter().find(|o| o.name == g.name);
            let serving = live.map_or(0, |o| o.pods.iter().filter(|p| p.is_serving()).count());
            // An HPA-owned group's count is whatever its workload's replicas
            // (pods) say, and
            // a scale-down that names no removable pod is held there.
            let running = i64::from(
                live.and_then(|o| o.applied.as_ref())
                    .map_or(0, |a| a.replicas)
                    .max(0),
            );
            let serving = i64::try_from(serving).unwrap();
            let wanted = i64::from(g.desired_pods(spec.suspend));
            let hpa_owned = g.external_replicas && !spec.suspend;
            let held = (g.autoscaled || !g.workers_to_delete.is_empty())
                && serving == running
                && running > wanted;
            let desired = if hpa_owned || held { running } else { wanted };
            assert_eq!(
                serving,
                desired,
                "Ready with group {} short: {}",
                g.name,
                ctx()
            );
        }
    }
}

/// One run: a sequence of `len` events from `seed`. Returns the events and
/// how many ended Ready.
fn run(seed: u64, len: usize) -> (Vec<Event>, bool) {
    let mut rng = Rng(seed);
    let absurd = rng.chance(20);
    let modelled = rng.chance(50);
    let mut machine = ClusterMachine::new();
    let mut model = Model::default();
    let mut events = Vec::with_capacity(len);
    let mut at = T0;
    let mut generation = 1;
    let mut spec = random_spec(&mut rng, generation, absurd);
    let mut reached_ready = false;
    for _ in 0..len {
        let gap = if rng.chance(10) { 400_000 } else { 3_000 };
        at = at.plus(rng.below(gap));
        if rng.chance(if modelled { 5 } else { 30 }) {
            generation += 1;
            spec = random_spec(&mut rng, generation, absurd);
        }
        let input = match rng.below(40) {
            0..=3 => Input::Tick,
            4 => Input::CommandFailed {
                command: CommandKind::EnsureGroup,
                reason: "FailedApplyWorkers".into(),
                message: "forbidden".into(),
            },
            5 if rng.chance(20) => Input::Deleted,
            _ => {
                let world = if modelled {
                    model.disturb(&mut rng, at);
                    model.world(&mut rng)
                } else {
                    random_world(&mut rng, at, absurd)
                };
                Input::Observed {
                    spec: spec.clone(),
                    world,
                }
            }
        };
        let event = Event { at, input };
        let before = machine.phase();
        let step = machine.step(&event);
        check(before, &event, &step, seed);
        if let Some(wake) = machine.next_wake() {
            assert!(
                wake > at,
                "seed {seed}: next_wake {wake:?} not after the event at {at:?}"
            );
        }
        reached_ready |= step.to == Phase::Ready;
        if modelled {
            model.apply(&spec, &step.commands, at);
        }
        events.push(event);
    }
    (events, reached_ready)
}

fn replay_is_identical(events: &[Event], seed: u64) {
    let cut = events.len() / 2;
    let mut start = ClusterMachine::new();
    for e in &events[..cut] {
        start.step(e);
    }
    let frozen = serde_json::to_string(&start).unwrap();
    let trace = || {
        let mut m: ClusterMachine = serde_json::from_str(&frozen).unwrap();
        events[cut..]
            .iter()
            .map(|e| {
                let step = m.step(e);
                serde_json::to_string(&(step, &m)).unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(trace(), trace(), "replay differs for seed {seed}");
    // The machine restored from the snapshot equals the one that never stopped.
    let mut original = ClusterMachine::new();
    let mut restored = None;
    for (i, e) in events.iter().enumerate() {
        if i == cut {
            restored = Some(serde_json::from_str::<ClusterMachine>(&frozen).unwrap());
        }
        let a = original.step(e);
        if let Some(r) = &mut restored {
            assert_eq!(a, r.step(e), "restored machine diverged, seed {seed}");
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn a_million_random_steps_keep_every_invariant() {
    let budget = env_u64("RAYOP_FUZZ_STEPS", 1_000_000);
    let first = env_u64("RAYOP_FUZZ_SEED", 0xC0FFEE);
    let started = Instant::now();
    let (mut steps, mut runs, mut ready, mut replays) = (0u64, 0u64, 0u64, 0u64);
    while steps < budget {
        let seed = first.wrapping_add(runs);
        let len = 20 + usize::try_from(seed % 181).unwrap();
        let (events, reached_ready) = run(seed, len);
        steps += events.len() as u64;
        ready += u64::from(reached_ready);
        if runs % 64 == 0 {
            replay_is_identical(&events, seed);
            replays += 1;
        }
        runs += 1;
    }
    eprintln!(
        "machine fuzz: {steps} steps in {runs} runs ({ready} reached Ready, {replays} replays checked) in {:.1?}",
        started.elapsed()
    );
    assert!(steps >= budget);
    // The world model must actually drive clusters to Ready, or the Ready
    // invariant was never exercised.
    assert!(
        ready * 10 >= runs,
        "only {ready} of {runs} runs reached Ready"
    );
}
