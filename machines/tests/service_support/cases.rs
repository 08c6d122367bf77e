//! The scenario of every row of the RayService transition table: the
//! machine driven to the row's source phase and the row's event. The edge
//! test walks them; the golden journals record them.
#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use rayop_machines::rayservice::{
    RouteView, ServiceCommandKind, ServiceEvent, ServiceInput, ServicePhase, ServiceSpec,
    ServiceWorld, Strategy,
};

use super::*;

/// The machine before a table row's event (its journal so far), and the
/// event, for the row `id` left from `from`.
pub fn case(id: &str, from: ServicePhase) -> (Driver, ServiceEvent) {
    let base = spec();
    let s = base.clone();
    let at = |d: &Driver, input: ServiceInput| d.next(input);
    let see = |d: &Driver, w: ServiceWorld| {
        let s = d.spec.clone();
        d.next(obs(&s, &w))
    };
    let see_with = |d: &Driver, s: &ServiceSpec| {
        let w = d.world.clone();
        d.next(obs(s, &w))
    };
    let s2 = respec(&s, "c2");
    let running_world = world(vec![serving(1, &s)], Some(1), 2);
    match id {
        "new-create" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![], None, 0));
            (d, e)
        }
        "new-adopt" => {
            let d = drive_to(from, &base);
            let e = see(&d, running_world);
            (d, e)
        }
        "first-waiting" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![starting(1, &s)], None, 0));
            (d, e)
        }
        "first-submit" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![answering(1, &s)], None, 0));
            (d, e)
        }
        "first-serving" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![answering(1, &s)], None, 0));
            let e = see(&d, world(vec![serving(1, &s)], None, 0));
            (d, e)
        }
        "first-promoted" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![answering(1, &s)], None, 0));
            d.see(world(vec![serving(1, &s)], None, 0));
            let e = see(&d, running_world);
            (d, e)
        }
        "first-respec" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![starting(1, &s)], None, 0));
            let e = see_with(&d, &s2);
            (d, e)
        }
        "steady" => {
            let d = drive_to(from, &base);
            let e = see(&d, running_world);
            (d, e)
        }
        "config-changed" => {
            let d = drive_to(from, &base);
            let changed = ServiceSpec {
                generation: 2,
                serve_config_hash: "s2".into(),
                ..s.clone()
            };
            let e = see_with(&d, &changed);
            (d, e)
        }
        "replicas-changed" => {
            let d = drive_to(from, &base);
            let changed = ServiceSpec {
                generation: 2,
                full_hash: "f1-replicas".into(),
                ..s.clone()
            };
            let e = see_with(&d, &changed);
            (d, e)
        }
        "groups-appended" => {
            let d = drive_to(from, &base);
            let changed = ServiceSpec {
                generation: 2,
                cluster_hash: "c1-more-groups".into(),
                compatible_hashes: vec!["c1".into()],
                full_hash: "f1-more-groups".into(),
                ..s.clone()
            };
            let e = see_with(&d, &changed);
            (d, e)
        }
        "upgrade" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &s2);
            (d, e)
        }
        "upgrade-none" => {
            let none = ServiceSpec {
                strategy: Strategy::None,
                ..s.clone()
            };
            let d = drive_to(from, &none);
            let e = see_with(&d, &respec(&none, "c2"));
            (d, e)
        }
        "head-lost" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![starting(1, &s)], Some(1), 1));
            (d, e)
        }
        "head-back" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![starting(1, &s)], Some(1), 1));
            let e = see(&d, running_world);
            (d, e)
        }
        "config-lost" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![answering(1, &s)], Some(1), 0));
            (d, e)
        }
        "label-head" => {
            let d = drive_to(from, &base);
            let mut unlabelled = serving(1, &s);
            unlabelled.head_serve_label = Some(false);
            let e = see(&d, world(vec![unlabelled], Some(1), 2));
            (d, e)
        }
        "endpoints-lost" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![serving(1, &s)], Some(1), 0));
            (d, e)
        }
        "route-restored" => {
            let d = drive_to(from, &incremental());
            let mut w = d.world.clone();
            w.route = None;
            let e = see(&d, w);
            (d, e)
        }
        "dangling" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![serving(1, &s), starting(7, &s)], Some(1), 2));
            (d, e)
        }
        "old-cluster-due" => {
            let d = promoted();
            let e = ServiceEvent {
                at: d.at.plus(61_000),
                input: ServiceInput::Tick,
            };
            (d, e)
        }
        "pending-submit" => {
            let d = drive_to(from, &base);
            let e = see(
                &d,
                world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2),
            );
            (d, e)
        }
        "pending-serving" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2));
            let e = see(&d, world(vec![serving(1, &s), serving(2, &s2)], Some(1), 2));
            (d, e)
        }
        "promoted" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2));
            d.see(world(vec![serving(1, &s), serving(2, &s2)], Some(1), 2));
            let e = see(&d, world(vec![serving(1, &s), serving(2, &s2)], Some(2), 2));
            (d, e)
        }
        "retarget" | "cancel" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![serving(1, &s), starting(2, &s2)], Some(1), 2));
            let goal = if id == "retarget" {
                respec(&s2, "c3")
            } else {
                respec(&s2, "c1")
            };
            let e = see_with(&d, &goal);
            (d, e)
        }
        "capacity-step" => {
            let d = weighted();
            let e = see(&d, d.world.clone());
            (d, e)
        }
        "weight-step" => {
            let mut d = weighted();
            d.see(d.world.clone());
            let e = ServiceEvent {
                at: d.at.plus(10_000),
                input: ServiceInput::Tick,
            };
            (d, e)
        }
        "incremental-switch" => {
            let mut d = weighted();
            d.see(d.world.clone());
            d.feed_after(10_000, ServiceInput::Tick);
            let mut w = d.world.clone();
            w.route = Some(RouteView {
                ready: true,
                weights: [(1, 0), (2, 100)].into_iter().collect(),
            });
            let e = see(&d, w);
            (d, e)
        }
        "rollback" => {
            let d = weighted();
            let e = see_with(&d, &respec(&d.spec, "c1"));
            (d, e)
        }
        "rollback-step" => {
            let d = drive_to(from, &base);
            let e = ServiceEvent {
                at: d.at.plus(10_000),
                input: ServiceInput::Tick,
            };
            (d, e)
        }
        "rollback-complete" => {
            let mut d = drive_to(from, &base);
            d.feed_after(10_000, ServiceInput::Tick);
            let mut w = d.world.clone();
            w.route = Some(RouteView {
                ready: true,
                weights: [(1, 100), (2, 0)].into_iter().collect(),
            });
            let e = see(&d, w);
            (d, e)
        }
        "rollback-cancelled" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &respec(&d.spec, "c2"));
            (d, e)
        }
        "suspend-first" => {
            let mut d = drive_to(from, &base);
            d.see(world(vec![starting(1, &s)], None, 0));
            let e = see_with(&d, &suspended(&d.spec));
            (d, e)
        }
        "suspend" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &suspended(&d.spec));
            (d, e)
        }
        "suspend-upgrading" => {
            let mut d = drive_to(from, &base);
            if from == ServicePhase::Upgrading {
                let both = world(vec![serving(1, &s), starting(2, &s2)], Some(1), 2);
                d.see(both);
            }
            let e = see_with(&d, &suspended(&d.spec));
            (d, e)
        }
        "suspending-wait" => {
            let d = drive_to(from, &base);
            let e = see(&d, d.world.clone());
            (d, e)
        }
        "suspended" | "suspended-steady" => {
            let d = drive_to(from, &base);
            let e = see(&d, world(vec![], None, 0));
            (d, e)
        }
        "new-suspended" => {
            let d = drive_to(from, &base);
            let e = at(&d, obs(&suspended(&s), &world(vec![], None, 0)));
            (d, e)
        }
        "resume" => {
            let d = drive_to(from, &base);
            let e = at(&d, obs(&base, &world(vec![], None, 0)));
            (d, e)
        }
        "invalid" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &broken(&d.spec));
            (d, e)
        }
        "invalid-steady" => {
            let d = drive_to(from, &base);
            let e = see(&d, d.world.clone());
            (d, e)
        }
        "invalid-new-generation" => {
            let d = drive_to(from, &base);
            let e = see_with(&d, &broken(&d.spec));
            (d, e)
        }
        "fixed" => {
            let d = drive_to(from, &base);
            let fixed = ServiceSpec {
                generation: d.spec.generation + 1,
                ..s.clone()
            };
            let e = see_with(&d, &fixed);
            (d, e)
        }
        "idle-tick" | "terminal" if id == "idle-tick" => {
            let d = drive_to(from, &base);
            let e = at(&d, ServiceInput::Tick);
            (d, e)
        }
        "command-failed" => {
            let d = drive_to(from, &base);
            let e = at(
                &d,
                ServiceInput::CommandFailed {
                    command: ServiceCommandKind::PointServices,
                    reason: "FailedToUpdateService".into(),
                    message: "conflict".into(),
                },
            );
            (d, e)
        }
        "deleted" | "terminal" => {
            let d = drive_to(from, &base);
            let e = at(&d, ServiceInput::Deleted);
            (d, e)
        }
        other => panic!("no case for row {other}"),
    }
}

/// `s` with `spec.suspend` at the next generation.
pub fn suspended(s: &ServiceSpec) -> ServiceSpec {
    ServiceSpec {
        generation: s.generation + 1,
        suspend: true,
        ..s.clone()
    }
}

/// A blue/green upgrade just promoted: cluster 2 active, cluster 1 retired
/// with its 60 s delay.
pub fn promoted() -> Driver {
    let s = spec();
    let s2 = respec(&s, "c2");
    let mut d = drive_to(ServicePhase::Upgrading, &s);
    d.see(world(vec![serving(1, &s), answering(2, &s2)], Some(1), 2));
    d.see(world(vec![serving(1, &s), serving(2, &s2)], Some(1), 2));
    d.see(world(vec![serving(1, &s), serving(2, &s2)], Some(2), 2));
    assert_eq!(d.machine.phase(), ServicePhase::Running);
    d
}

/// An incremental upgrade from cluster 1 to cluster 2 with half the
/// weight moved: capacities 50/50, weights 50/50, the last weight step
/// two seconds ago.
pub fn weighted() -> Driver {
    let mut d = drive_to(ServicePhase::Running, &incremental());
    let s1 = d.spec.clone();
    let s2 = respec(&s1, "c2");
    let one = serving(1, &s1);
    d.see_with(&s2, routed(vec![one.clone()], Some(1), &[(1, 100)], 2));
    // Cluster 2 answers: its config goes with capacity 0, then capacity 50;
    // it serves: weight 50; the route shows it: active capacity 50.
    d.see(routed(
        vec![one.clone(), answering(2, &s2)],
        Some(1),
        &[(1, 100)],
        2,
    ));
    d.see(routed(
        vec![one.clone(), serving(2, &s2)],
        Some(1),
        &[(1, 100)],
        2,
    ));
    d.see(routed(
        vec![one, serving(2, &s2)],
        Some(1),
        &[(1, 50), (2, 50)],
        3,
    ));
    assert_eq!(d.machine.phase(), ServicePhase::Upgrading);
    d
}
