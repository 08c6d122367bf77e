//! Properties of the RayCronJob machine over random journals, driven by a
//! small model of the cluster (the children that exist, the status, a cache
//! that lags): a tick's RayJob is created at most once; created ticks
//! strictly increase and never lie in the future; nothing is created while
//! suspended or invalid; `lastScheduleTime` only moves forward; the same
//! actions give byte-identical journals; a snapshot restored with serde
//! behaves like the machine it was taken from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cron_support;

use std::collections::BTreeSet;

use cron_support::*;
use proptest::prelude::*;
use rayop_machines::{
    Millis, SpecProblem, Step,
    raycronjob::{
        CronCommand, CronCommandKind, CronEvent, CronInput, CronMachine, CronPhase, CronSpec,
        CronWorld, minute_of,
    },
};

const SCHEDULES: [&str; 6] = [
    "* * * * *",
    "*/5 * * * *",
    "@every 90s",
    "@hourly",
    "0 9 * * MON-FRI",
    "30 2 * * *",
];
const ZONES: [Option<&str>; 3] = [None, Some("America/New_York"), Some("Asia/Kolkata")];

/// What the harness does next.
#[derive(Clone, Debug)]
enum Action {
    /// Observe after `advance_ms`, with the cache showing everything or lagging.
    Observe {
        advance_ms: u64,
        schedule: usize,
        zone: usize,
        suspend: bool,
        broken: bool,
        lagging: bool,
    },
    /// Tick at the machine's wake-up (or later by `late_ms`), if it has one.
    Wake { late_ms: u64 },
    /// Tick after `advance_ms`, whatever the timers say.
    Tick { advance_ms: u64 },
    /// The last create failed.
    FailCreate,
    /// The last status write failed.
    FailPatch,
    /// The RayCronJob is deleted.
    Delete,
}

fn action() -> impl Strategy<Value = Action> {
    let advance = prop_oneof![
        4 => 0u64..120_000,
        2 => 0u64..(6 * 3_600_000),
        1 => 0u64..(5 * 86_400_000),
    ];
    prop_oneof![
        6 => (advance.clone(), 0..SCHEDULES.len(), 0..ZONES.len(), proptest::bool::weighted(0.15),
              proptest::bool::weighted(0.1), any::<bool>())
            .prop_map(|(advance_ms, schedule, zone, suspend, broken, lagging)| Action::Observe {
                advance_ms, schedule, zone, suspend, broken, lagging
            }),
        6 => (0u64..5_000).prop_map(|late_ms| Action::Wake { late_ms }),
        2 => advance.prop_map(|advance_ms| Action::Tick { advance_ms }),
        1 => Just(Action::FailCreate),
        1 => Just(Action::FailPatch),
        1 => prop_oneof![49 => Just(false), 1 => Just(true)].prop_map(|d| if d { Action::Delete } else { Action::FailPatch }),
    ]
}

/// The machine and a model of the cluster around it.
#[derive(Clone, Debug)]
struct Harness {
    machine: CronMachine,
    at: Millis,
    /// Ticks whose RayJob exists.
    children: BTreeSet<Millis>,
    /// `status.lastScheduleTime` as stored.
    status: Option<Millis>,
    /// What the cache showed last time (it may lag by one observation).
    cached: CronWorld,
    last_step: Option<Step<CronPhase, CronCommand>>,
    journal: Vec<(CronEvent, Step<CronPhase, CronCommand>)>,
}

impl Harness {
    fn new() -> Self {
        Harness {
            machine: CronMachine::new(),
            at: T0,
            children: BTreeSet::new(),
            status: None,
            cached: CronWorld::default(),
            last_step: None,
            journal: Vec::new(),
        }
    }

    fn world(&self) -> CronWorld {
        CronWorld {
            last_schedule: self.status,
            children: self.children.iter().copied().collect(),
        }
    }

    fn feed(&mut self, at: Millis, input: CronInput) {
        self.at = at;
        let event = CronEvent { at, input };
        let step = self.machine.step(&event);
        for command in &step.commands {
            match command {
                CronCommand::CreateRayJob { tick } => {
                    self.children.insert(*tick);
                }
                CronCommand::PatchStatus { last_schedule } => self.status = Some(*last_schedule),
                _ => {}
            }
        }
        self.journal.push((event, step.clone()));
        self.last_step = Some(step);
    }

    fn last_had(&self, kind: CronCommandKind) -> Option<&CronCommand> {
        self.last_step
            .as_ref()
            .and_then(|s| s.commands.iter().find(|c| c.kind() == kind))
    }

    fn apply(&mut self, action: &Action) {
        match action {
            Action::Observe {
                advance_ms,
                schedule,
                zone,
                suspend,
                broken,
                lagging,
            } => {
                let spec = CronSpec {
                    generation: 1 + (*schedule as i64) + 10 * (*zone as i64),
                    schedule: SCHEDULES[*schedule].into(),
                    time_zone: ZONES[*zone].map(str::to_owned),
                    suspend: *suspend,
                    problems: if *broken {
                        vec![SpecProblem::new("spec.jobTemplate", "broken")]
                    } else {
                        Vec::new()
                    },
                    ..spec()
                };
                let fresh = self.world();
                let world = if *lagging {
                    self.cached.clone()
                } else {
                    fresh.clone()
                };
                self.cached = fresh;
                self.feed(
                    self.at.plus(*advance_ms),
                    CronInput::Observed { spec, world },
                );
            }
            Action::Wake { late_ms } => {
                if let Some(wake) = self.machine.next_wake() {
                    self.feed(wake.max(self.at).plus(*late_ms), CronInput::Tick);
                }
            }
            Action::Tick { advance_ms } => self.feed(self.at.plus(*advance_ms), CronInput::Tick),
            Action::FailCreate => {
                if let Some(CronCommand::CreateRayJob { tick }) =
                    self.last_had(CronCommandKind::CreateRayJob).cloned()
                {
                    self.children.remove(&tick);
                    self.feed(
                        self.at,
                        CronInput::CommandFailed {
                            command: CronCommandKind::CreateRayJob,
                            reason: "FailedToCreateRayJob".into(),
                            message: "quota".into(),
                        },
                    );
                }
            }
            Action::FailPatch => {
                if self.last_had(CronCommandKind::PatchStatus).is_some() {
                    let previous = self.journal.iter().rev().skip(1).find_map(|(_, s)| {
                        s.commands.iter().rev().find_map(|c| match c {
                            CronCommand::PatchStatus { last_schedule } => Some(*last_schedule),
                            _ => None,
                        })
                    });
                    self.status = previous;
                    self.feed(
                        self.at,
                        CronInput::CommandFailed {
                            command: CronCommandKind::PatchStatus,
                            reason: "Conflict".into(),
                            message: "stale".into(),
                        },
                    );
                }
            }
            Action::Delete => self.feed(self.at.plus(1000), CronInput::Deleted),
        }
    }

    fn run(&mut self, actions: &[Action]) {
        for a in actions {
            self.apply(a);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn a_tick_is_created_at_most_once_and_ticks_increase(actions in proptest::collection::vec(action(), 1..60)) {
        let mut h = Harness::new();
        h.run(&actions);
        // A create that failed is retried with the same tick; only a failed
        // one may be issued again.
        let mut succeeded: BTreeSet<u64> = BTreeSet::new();
        let mut last: Option<Millis> = None;
        for (i, (event, step)) in h.journal.iter().enumerate() {
            let failed_next = matches!(
                h.journal.get(i + 1),
                Some((CronEvent { input: CronInput::CommandFailed { command: CronCommandKind::CreateRayJob, .. }, .. }, _))
            );
            for tick in creates(step) {
                prop_assert!(tick <= event.at, "a future tick {tick:?} at {:?}", event.at);
                prop_assert!(!succeeded.contains(&minute_of(tick)), "tick {tick:?} created twice");
                if let Some(l) = last {
                    prop_assert!(tick >= l, "ticks go back: {tick:?} after {l:?}");
                }
                last = Some(tick);
                if !failed_next {
                    succeeded.insert(minute_of(tick));
                }
            }
        }
    }

    #[test]
    fn nothing_is_created_while_suspended_or_invalid(actions in proptest::collection::vec(action(), 1..60)) {
        let mut h = Harness::new();
        h.run(&actions);
        for (event, step) in &h.journal {
            if creates(step).is_empty() {
                continue;
            }
            prop_assert_eq!(step.to, CronPhase::Scheduling);
            prop_assert!(matches!(step.from, CronPhase::New | CronPhase::Scheduling));
            if let CronInput::Observed { spec, .. } = &event.input {
                prop_assert!(!spec.suspend && spec.problems.is_empty());
            }
        }
    }

    #[test]
    fn last_schedule_time_only_moves_forward(actions in proptest::collection::vec(action(), 1..60)) {
        let mut h = Harness::new();
        h.run(&actions);
        let mut last = None;
        for (_, step) in &h.journal {
            for c in &step.commands {
                if let CronCommand::PatchStatus { last_schedule } = c {
                    prop_assert!(Some(*last_schedule) >= last);
                    last = Some(*last_schedule);
                }
            }
        }
    }

    #[test]
    fn the_same_actions_give_the_same_journal(actions in proptest::collection::vec(action(), 1..60)) {
        let mut a = Harness::new();
        let mut b = Harness::new();
        a.run(&actions);
        b.run(&actions);
        prop_assert_eq!(
            serde_json::to_string(&a.journal).unwrap(),
            serde_json::to_string(&b.journal).unwrap()
        );
        prop_assert_eq!(serde_json::to_string(&a.machine).unwrap(), serde_json::to_string(&b.machine).unwrap());
    }

    #[test]
    fn a_restored_snapshot_behaves_the_same(actions in proptest::collection::vec(action(), 1..60), cut in 0usize..60) {
        let cut = cut.min(actions.len());
        let mut original = Harness::new();
        original.run(&actions[..cut]);
        let snapshot = serde_json::to_string(&original.machine).unwrap();
        let mut restored = original.clone();
        restored.machine = serde_json::from_str(&snapshot).unwrap();
        prop_assert_eq!(&restored.machine, &original.machine);
        prop_assert_eq!(restored.machine.resume(), original.machine.resume());
        original.run(&actions[cut..]);
        restored.run(&actions[cut..]);
        prop_assert_eq!(
            serde_json::to_string(&original.journal).unwrap(),
            serde_json::to_string(&restored.journal).unwrap()
        );
    }
}

#[test]
fn three_days_down_make_one_rayjob_and_one_event() {
    let mut d = drive_to(CronPhase::Scheduling);
    let step = d.feed_at(T0.plus(3 * 24 * 60 * MIN), obs(&spec(), empty()));
    assert_eq!(creates(&step), [T0.plus(3 * 24 * 60 * MIN)]);
    let missed: Vec<_> = step
        .commands
        .iter()
        .filter_map(|c| match c {
            CronCommand::Announce(n) if n.reason == "MissedSchedules" => Some(n.message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(missed.len(), 1);
    assert!(
        missed[0].starts_with("1000 or more tick(s) from 2026-03-07T10:01:00Z"),
        "{}",
        missed[0]
    );
}

#[test]
fn no_burst_after_a_suspension() {
    let mut d = drive_to(CronPhase::Scheduling);
    d.feed_at(T0.plus(MIN), CronInput::Tick);
    d.feed_at(T0.plus(MIN + 5000), obs(&suspended(2), empty()));
    let resumed_at = T0.plus(90 * MIN + 30_000);
    let step = d.feed_at(resumed_at, obs(&spec(), empty()));
    assert!(creates(&step).is_empty(), "{:?}", step.commands);
    assert_eq!(step.commands, [CronCommand::WakeAt(T0.plus(91 * MIN))]);
    let step = d.feed_at(T0.plus(91 * MIN), CronInput::Tick);
    assert_eq!(creates(&step), [T0.plus(91 * MIN)]);
}

#[test]
fn the_suspension_is_announced_once_and_the_invalid_spec_once_per_generation() {
    let mut d = drive_to(CronPhase::Suspended);
    for minutes in 1..5 {
        let step = d.feed_at(T0.plus(minutes * MIN), obs(&suspended(1), empty()));
        assert!(step.commands.is_empty());
    }
    let mut d = drive_to(CronPhase::Invalid);
    assert!(
        d.feed_at(T0.plus(MIN), obs(&broken(1), empty()))
            .commands
            .is_empty()
    );
    assert_eq!(
        d.feed_at(T0.plus(2 * MIN), obs(&broken(2), empty()))
            .commands
            .len(),
        1
    );
}

#[test]
fn a_bad_zone_or_schedule_is_invalid_and_names_its_field() {
    for (schedule, zone, field) in [
        ("61 * * * *", None, "spec.schedule"),
        ("0 0 30 2 *", None, "spec.schedule"),
        ("@hourly", Some("Mars/Olympus"), "spec.timeZone"),
    ] {
        let mut d = Driver::default();
        let s = CronSpec {
            schedule: schedule.into(),
            time_zone: zone.map(str::to_owned),
            ..spec()
        };
        let step = d.feed(obs(&s, empty()));
        assert_eq!(step.to, CronPhase::Invalid);
        let CronCommand::Announce(notice) = &step.commands[0] else {
            panic!("{:?}", step.commands)
        };
        assert_eq!(notice.reason, "InvalidRayCronJobSpec");
        assert!(notice.message.contains(field), "{}", notice.message);
    }
}

#[test]
fn a_lagging_cache_never_duplicates_a_tick() {
    // #4849: the status write is not in the cache yet at the next reconcile.
    let mut d = drive_to(CronPhase::Scheduling);
    let step = d.feed_at(T0.plus(MIN), obs(&spec(), empty()));
    assert_eq!(creates(&step), [T0.plus(MIN)]);
    let step = d.feed_at(T0.plus(MIN + 200), obs(&spec(), empty()));
    assert!(step.commands.is_empty(), "{:?}", step.commands);
    // A machine without a journal sees the child and does not create it again.
    let mut fresh = Driver::default();
    let world = CronWorld {
        last_schedule: None,
        children: vec![T0.plus(MIN)],
    };
    let step = fresh.feed_at(T0.plus(MIN + 200), obs(&spec(), world));
    assert!(creates(&step).is_empty(), "{:?}", step.commands);
}
