//! Walks every row of the RayService transition table through the real
//! machine: from each listed phase the row's event must lead to the listed
//! phase with exactly the listed command kinds. Also keeps
//! RAYSERVICE_TRANSITIONS.md fresh, and plays the scenarios the machine is
//! about: upgrade, rollback, loss of the active head, suspend and resume,
//! deletion.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod service_support;

mod table_support;

use rayop_machines::rayservice::{ServiceCommand, ServicePhase, ServiceSpec, table::SERVICE_TABLE};
use service_support::*;
use table_support::{every_row_holds, published_table_is_current};

#[test]
fn every_row_of_the_table_holds() {
    every_row_holds(
        SERVICE_TABLE,
        |id, from| {
            let (mut d, event) = case(id, from);
            d.machine.step(&event)
        },
        ServiceCommand::kind,
    );
}

#[test]
fn every_phase_is_left_and_entered() {
    table_support::every_phase_is_left_and_entered(
        SERVICE_TABLE,
        &ServicePhase::ALL,
        ServicePhase::New,
    );
}

#[test]
fn row_ids_are_unique() {
    table_support::row_ids_are_unique(SERVICE_TABLE);
}

#[test]
fn the_published_table_is_current() {
    published_table_is_current(
        "RAYSERVICE_TRANSITIONS.md",
        &rayop_machines::rayservice::table::markdown(),
        "rayservice_edges",
    );
}

fn phase_is(phase: ServicePhase) -> impl Fn(&Harness) -> bool {
    move |h: &Harness| h.d.machine.phase() == phase
}

fn all_commands(h: &Harness) -> Vec<ServiceCommand> {
    h.d.journal
        .iter()
        .flat_map(|l| l.step.commands.iter().cloned())
        .collect()
}

fn submissions_to(h: &Harness, cluster: u32) -> usize {
    all_commands(h)
        .iter()
        .filter(
            |c| matches!(c, ServiceCommand::SubmitServeConfig { cluster: c, .. } if *c == cluster),
        )
        .count()
}

fn active(h: &Harness) -> Option<u32> {
    h.d.machine.service().active.as_ref().map(|a| a.index)
}

fn announced(step: &rayop_machines::Step<ServicePhase, ServiceCommand>, reason: &str) -> bool {
    step.commands
        .iter()
        .any(|c| matches!(c, ServiceCommand::Announce(n) if n.reason == reason))
}

#[test]
fn a_blue_green_upgrade_switches_to_the_serving_cluster_and_deletes_the_old_one_after_its_delay() {
    let s = spec();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    let s2 = respec(&s, "c2");
    let first = h.observe_after(1000, &s2);
    assert!(
        first
            .commands
            .contains(&ServiceCommand::CreateCluster { cluster: 2 })
    );
    let steps = h.observe_until(10, |h| active(h) == Some(2));
    // The Services moved only once cluster 2 served.
    let switch =
        h.d.journal
            .iter()
            .find(|l| {
                l.step
                    .commands
                    .contains(&ServiceCommand::PointServices { cluster: 2 })
            })
            .unwrap();
    let rayop_machines::rayservice::ServiceInput::Observed { world, .. } = &switch.event.input
    else {
        panic!("the switch came from an observation");
    };
    assert!(world.cluster(2).unwrap().serving());
    let promotion = steps.last().unwrap();
    assert!(announced(promotion, "Promoted"));
    let due = h.d.at.plus(60_000);
    assert!(promotion.commands.contains(&ServiceCommand::WakeAt(due)));
    // Not a moment before the delay, and then once.
    let early = h.tick_after(59_000);
    assert!(
        !early
            .commands
            .iter()
            .any(|c| matches!(c, ServiceCommand::DeleteCluster { .. }))
    );
    let on_time = h.tick_after(1_000);
    assert_eq!(
        on_time.commands,
        [ServiceCommand::DeleteCluster { cluster: 1 }]
    );
    h.observe();
    assert!(!h.sim.clusters.contains_key(&1));
    assert_eq!(submissions_to(&h, 1), 1);
    assert_eq!(submissions_to(&h, 2), 1);
    let status = h.d.machine.service().last_status.clone().unwrap();
    assert_eq!(status.active.unwrap().cluster, 2);
    assert!(status.pending.is_none());
}

#[test]
fn an_incremental_upgrade_moves_weight_step_by_step_then_switches_the_head_service() {
    let s = incremental();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    h.observe_after(1000, &respec(&s, "c2"));
    for _ in 0..20 {
        if active(&h) == Some(2) {
            break;
        }
        h.observe_after(10_000, &h.d.spec.clone());
    }
    assert_eq!(active(&h), Some(2));
    let weights: Vec<u8> = all_commands(&h)
        .iter()
        .filter_map(|c| match c {
            ServiceCommand::SetRoute { backends } => {
                backends.iter().find(|(i, _)| *i == 2).map(|(_, w)| *w)
            }
            _ => None,
        })
        .collect();
    assert_eq!(weights, [50, 100], "weights of cluster 2 over the upgrade");
    let capacities: Vec<(u32, u8)> = all_commands(&h)
        .iter()
        .filter_map(|c| match c {
            ServiceCommand::SetTargetCapacity { cluster, percent } => Some((*cluster, *percent)),
            _ => None,
        })
        .collect();
    assert_eq!(capacities, [(2, 50), (1, 50), (2, 100), (1, 0)]);
    assert_eq!(h.sim.head_service, Some(2));
}

#[test]
fn reverting_during_an_incremental_upgrade_returns_the_traffic_before_the_pending_cluster_goes() {
    let s = incremental();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    let s2 = respec(&s, "c2");
    h.observe_after(1000, &s2);
    h.observe_until(10, |h| {
        h.sim.route.as_ref().is_some_and(|r| r.get(&2) == Some(&50))
    });
    let back = respec(&s2, "c1");
    let step = h.observe_after(1000, &back);
    assert_eq!(step.to, ServicePhase::RollingBack);
    assert!(
        h.d.machine
            .service()
            .last_status
            .as_ref()
            .unwrap()
            .rolling_back
    );
    for _ in 0..10 {
        if h.d.machine.phase() == ServicePhase::Running {
            break;
        }
        h.observe_after(10_000, &back);
    }
    assert_eq!(h.d.machine.phase(), ServicePhase::Running);
    assert_eq!(active(&h), Some(1));
    assert_eq!(h.sim.route.as_ref().unwrap().get(&1), Some(&100));
    assert!(
        h.sim.clusters.contains_key(&2),
        "kept for its delay: it had traffic"
    );
    assert!(
        !all_commands(&h).contains(&ServiceCommand::PointServices { cluster: 2 }),
        "the head Service never left cluster 1"
    );
    let due = h.tick_after(61_000);
    assert_eq!(due.commands, [ServiceCommand::DeleteCluster { cluster: 2 }]);
    assert!(
        !h.d.machine
            .service()
            .last_status
            .as_ref()
            .unwrap()
            .rolling_back
    );
}

#[test]
fn a_blue_green_revert_cancels_the_pending_cluster_at_once() {
    let s = spec();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    h.observe_after(1000, &respec(&s, "c2"));
    h.observe();
    let cancel = h.observe_after(1000, &respec(&respec(&s, "c2"), "c1"));
    assert_eq!(cancel.to, ServicePhase::Running);
    assert!(
        cancel
            .commands
            .contains(&ServiceCommand::DeleteCluster { cluster: 2 })
    );
    assert!(announced(&cancel, "UpgradeCancelled"));
    assert!(!all_commands(&h).contains(&ServiceCommand::PointServices { cluster: 2 }));
}

#[test]
fn a_third_spec_during_an_upgrade_replaces_the_pending_cluster() {
    let s = spec();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    let s2 = respec(&s, "c2");
    h.observe_after(1000, &s2);
    h.observe();
    let step = h.observe_after(1000, &respec(&s2, "c3"));
    assert_eq!(
        step.commands[..2],
        [
            ServiceCommand::CreateCluster { cluster: 3 },
            ServiceCommand::DeleteCluster { cluster: 2 }
        ]
    );
    assert_eq!(h.d.machine.service().pending.as_ref().unwrap().index, 3);
    h.observe_until(10, |h| active(h) == Some(3));
    assert!(!all_commands(&h).contains(&ServiceCommand::PointServices { cluster: 2 }));
}

#[test]
fn losing_the_active_head_keeps_the_traffic_says_so_and_resubmits_once() {
    let s = spec();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    h.sim.restart_head(1);
    let lost = h.observe();
    assert!(announced(&lost, "ActiveClusterUnhealthy"));
    let status = h.d.machine.service().last_status.clone().unwrap();
    assert!(!status.active.unwrap().head_ready);
    assert!(lost.commands.iter().all(|c| !matches!(
        c,
        ServiceCommand::PointServices { .. } | ServiceCommand::CreateCluster { .. }
    )));
    assert_eq!(h.sim.head_service, Some(1), "traffic stays");
    h.observe_until(10, |h| h.sim.world().cluster(1).unwrap().serving());
    let back = h.observe();
    assert!(announced(&back, "ActiveClusterRecovered"));
    assert_eq!(
        submissions_to(&h, 1),
        2,
        "once at first, once after the loss"
    );
    for _ in 0..3 {
        h.observe();
    }
    assert_eq!(submissions_to(&h, 1), 2);
}

#[test]
fn suspend_deletes_everything_and_resume_builds_a_new_cluster() {
    let s = spec();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    let suspend = suspended(&s);
    let step = h.observe_after(1000, &suspend);
    assert_eq!(step.to, ServicePhase::Suspending);
    assert_eq!(
        step.commands[..2],
        [
            ServiceCommand::DeleteServices,
            ServiceCommand::DeleteCluster { cluster: 1 }
        ]
    );
    // Flipping back does not stop the suspension.
    let flipped = ServiceSpec {
        generation: suspend.generation + 1,
        ..s.clone()
    };
    let done = h.observe_after(1000, &flipped);
    assert_eq!(done.to, ServicePhase::Suspended);
    let resumed = h.observe_after(1000, &flipped);
    assert_eq!(resumed.to, ServicePhase::WaitForServeDeploymentReady);
    assert!(
        resumed
            .commands
            .contains(&ServiceCommand::CreateCluster { cluster: 2 })
    );
    h.observe_until(10, phase_is(ServicePhase::Running));
    assert_eq!(active(&h), Some(2));
}

#[test]
fn deletion_forgets_and_nothing_follows() {
    let mut h = Harness::new(&spec());
    h.observe_until(10, phase_is(ServicePhase::Running));
    let step = h.d.feed(rayop_machines::rayservice::ServiceInput::Deleted);
    assert_eq!(step.commands, [ServiceCommand::Forget]);
    assert_eq!(h.d.machine.resume(), [ServiceCommand::Forget]);
    assert!(h.observe().commands.is_empty());
}

#[test]
fn a_restored_machine_asks_for_its_status_and_its_timer() {
    let d = promoted();
    let resumed = d.machine.resume();
    assert!(matches!(resumed[0], ServiceCommand::PublishStatus(_)));
    assert_eq!(resumed[1], ServiceCommand::WakeAt(d.at.plus(60_000)));
}

#[test]
fn during_an_upgrade_the_active_cluster_gets_back_a_lost_config_but_never_the_new_one() {
    let s = spec();
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    // A new cluster spec and a new config: the config goes to cluster 2 only.
    let s2 = ServiceSpec {
        serve_config_hash: "s2".into(),
        ..respec(&s, "c2")
    };
    h.observe_after(1000, &s2);
    h.sim.restart_head(1);
    h.observe_until(10, phase_is(ServicePhase::Running));
    let to_one: Vec<String> = all_commands(&h)
        .iter()
        .filter_map(|c| match c {
            ServiceCommand::SubmitServeConfig {
                cluster: 1,
                config_hash,
                ..
            } => Some(config_hash.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(to_one, ["s1"], "cluster 1 kept its own config");
    assert_eq!(active(&h), Some(2));

    // The same loss while the spec's config is still cluster 1's: given back.
    let mut h = Harness::new(&s);
    h.observe_until(10, phase_is(ServicePhase::Running));
    h.observe_after(1000, &respec(&s, "c2"));
    h.sim.restart_head(1);
    h.observe();
    h.observe();
    h.observe();
    assert_eq!(submissions_to(&h, 1), 2);
}
