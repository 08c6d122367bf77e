//! Where traffic goes: promotion, the head and serve Services, and the
//! incremental upgrade's target capacities and route weights.
//!
//! Invariants: traffic never moves to a cluster that is not serving (head
//! ready, at least one application and all `RUNNING`): `PointServices`
//! names a serving cluster, and `SetRoute` raises only serving clusters'
//! weights. A cluster that stops serving keeps the traffic it has until
//! another serves. Promotion follows the observed switch of the head
//! Service, never the command alone.

use super::{
    command::ServiceCommand,
    input::{IncrementalOptions, RouteView, Strategy},
    machine::{Migration, Outbox, Service},
};
use crate::Severity;

/// Whether the observed route has exactly these weights.
pub(super) fn route_matches(route: &RouteView, backends: &[(u32, u8)]) -> bool {
    backends.iter().all(|&(i, w)| route.weight(i) == w)
        && route
            .weights
            .iter()
            .all(|(i, w)| *w == 0 || backends.iter().any(|(b, _)| b == i))
}

/// The route's backends during a migration: the pending cluster's weight,
/// the rest on the active one.
fn backends(active: u32, pending: u32, m: Migration) -> Vec<(u32, u8)> {
    let weight = m.pending_traffic.min(100);
    vec![(active, 100 - weight), (pending, weight)]
}

impl Service {
    /// Whether the cluster of `index` serves, per the last world.
    pub(super) fn serving(&self, index: u32) -> bool {
        self.world.cluster(index).is_some_and(|c| c.serving())
    }

    /// Makes the pending cluster active once the head Service selects it.
    pub(super) fn promote(&mut self, context: &mut Outbox) {
        let Some(p) = self.pending.clone() else {
            return;
        };
        if self.rolling_back || self.world.head_service != Some(p.index) {
            return;
        }
        let old = self.active.take();
        if let Some(old) = &old {
            self.retire(old.index);
        }
        self.active = Some(p.clone());
        self.pending = None;
        self.migration = None;
        let message = match old {
            Some(old) => format!(
                "traffic moved from cluster {} to cluster {}; cluster {} is deleted after {} s",
                old.index, p.index, old.index, self.spec.deletion_delay_seconds
            ),
            None => format!("cluster {} serves", p.index),
        };
        context.announce(Severity::Normal, "Promoted", message);
    }

    /// The cluster the Services should select, if one can take traffic.
    fn traffic_target(&self) -> Option<u32> {
        let active = self.active.as_ref().map(|a| a.index);
        let pending = self.pending.as_ref().map(|p| p.index);
        let serving = |i: Option<u32>| i.filter(|&i| self.serving(i));
        if self.rolling_back {
            return serving(active);
        }
        let switch = match (self.spec.strategy, self.migration, pending) {
            (Strategy::Incremental(_), Some(m), Some(p)) => {
                m.active_capacity == 0
                    && m.pending_traffic == 100
                    && self
                        .world
                        .route
                        .as_ref()
                        .is_some_and(|r| r.weight(p) == 100)
            }
            _ => true,
        };
        switch
            .then(|| serving(pending))
            .flatten()
            .or_else(|| serving(active))
    }

    /// Points the Services at the traffic target.
    pub(super) fn point_services(&mut self, context: &mut Outbox) {
        let Some(target) = self.traffic_target() else {
            return;
        };
        let incremental = matches!(self.spec.strategy, Strategy::Incremental(_));
        let there = self.world.head_service == Some(target)
            && (incremental || self.world.serve_service == Some(target));
        if there || self.services_asked == Some(target) {
            return;
        }
        self.services_asked = Some(target);
        context.push(ServiceCommand::PointServices { cluster: target });
    }

    /// Incremental mode: moves capacity and weights one step, sends changed
    /// capacities, and asks for the route.
    pub(super) fn migrate(&mut self, context: &mut Outbox) {
        let Strategy::Incremental(options) = self.spec.strategy else {
            return;
        };
        let Some(active) = self.active.as_ref().map(|a| a.index) else {
            return;
        };
        let pending = self.pending.as_ref().map(|p| p.index);
        let backends = match (pending, self.migration) {
            (Some(p), Some(mut m)) => {
                if self.capacities_settled(active, p, m) {
                    self.advance(&mut m, options, active, p);
                }
                self.migration = Some(m);
                self.send_capacity(context, active, m.active_capacity);
                self.send_capacity(context, p, m.pending_capacity);
                backends(active, p, m)
            }
            _ => {
                self.send_capacity(context, active, 100);
                vec![(active, 100)]
            }
        };
        self.ask_route(context, backends);
    }

    /// The capacities were sent and the route shows the decided weights.
    fn capacities_settled(&self, active: u32, pending: u32, m: Migration) -> bool {
        let sent = |i: u32| self.clusters.get(&i).and_then(|c| c.capacity_sent);
        let route = self.world.route.as_ref().is_some_and(|r| {
            r.ready
                && route_matches(
                    r,
                    &[
                        (active, 100 - m.pending_traffic),
                        (pending, m.pending_traffic),
                    ],
                )
        });
        route
            && sent(active) == Some(m.active_capacity)
            && sent(pending) == Some(m.pending_capacity)
    }

    /// One step of capacity or weight, forward or (rolling back) back.
    fn advance(&self, m: &mut Migration, options: IncrementalOptions, active: u32, pending: u32) {
        let interval_over = m.last_step.is_none_or(|t| {
            self.now >= t.plus(u64::from(options.interval_seconds).saturating_mul(1000))
        });
        if self.rolling_back {
            m.active_capacity = 100;
            if m.pending_traffic > 0 && interval_over && self.serving(active) {
                m.pending_traffic = m.pending_traffic.saturating_sub(options.step_size_percent);
                m.last_step = Some(self.now);
            }
            return;
        }
        let surge = options.max_surge_percent.max(1);
        if m.pending_traffic < m.pending_capacity {
            if interval_over && self.serving(pending) {
                let step = options.step_size_percent.max(1);
                m.pending_traffic = m
                    .pending_traffic
                    .saturating_add(step)
                    .min(m.pending_capacity)
                    .min(100);
                m.last_step = Some(self.now);
            }
        } else if u16::from(m.active_capacity) + u16::from(m.pending_capacity) <= 100 {
            if m.pending_capacity < 100 {
                m.pending_capacity = m.pending_capacity.saturating_add(surge).min(100);
            }
        } else {
            m.active_capacity = m.active_capacity.saturating_sub(surge);
        }
    }

    /// When the next weight step may come, if one is waiting for the interval.
    pub(super) fn next_step_at(&self) -> Option<crate::Millis> {
        let Strategy::Incremental(options) = self.spec.strategy else {
            return None;
        };
        let m = self.migration?;
        let waiting = if self.rolling_back {
            m.pending_traffic > 0
        } else {
            m.pending_traffic < m.pending_capacity
        };
        let at = m
            .last_step?
            .plus(u64::from(options.interval_seconds).saturating_mul(1000));
        (waiting && at > self.now).then_some(at)
    }

    /// Sends a changed target capacity to a cluster that has its config.
    fn send_capacity(&mut self, context: &mut Outbox, index: u32, percent: u8) {
        let exists = self.world.cluster(index).is_some_and(|c| c.head_ready);
        let memory = self.clusters.entry(index).or_default();
        if !exists || memory.submitted.is_none() || memory.capacity_sent == Some(percent) {
            return;
        }
        memory.capacity_sent = Some(percent);
        context.push(ServiceCommand::SetTargetCapacity {
            cluster: index,
            percent,
        });
    }

    /// Asks for the route's backends unless the world or an earlier ask has
    /// them; a weight rises only for a serving cluster.
    fn ask_route(&mut self, context: &mut Outbox, backends: Vec<(u32, u8)>) {
        let observed = self.world.route.clone().unwrap_or_default();
        if self.world.route.is_some() && route_matches(&observed, &backends) {
            return;
        }
        if self.route_asked.as_ref() == Some(&backends) {
            return;
        }
        let rises_safely = backends
            .iter()
            .all(|&(i, w)| w <= observed.weight(i) || self.serving(i));
        if !rises_safely {
            return;
        }
        self.route_asked = Some(backends.clone());
        context.push(ServiceCommand::SetRoute { backends });
    }

    /// A rollback is over once no traffic reaches the pending cluster: it is
    /// retired and the active cluster serves alone.
    pub(super) fn finish_rollback(&mut self, context: &mut Outbox) {
        let Some(p) = self.pending.clone() else {
            return;
        };
        let returned = self.migration.is_none_or(|m| m.pending_traffic == 0);
        let asked = self.services_asked == Some(p.index);
        if !self.rolling_back || !returned || asked || self.world.has_traffic(p.index) {
            return;
        }
        self.retire(p.index);
        self.pending = None;
        self.migration = None;
        self.rolling_back = false;
        context.announce(
            Severity::Normal,
            "RollbackComplete",
            format!(
                "traffic is back on the active cluster; cluster {} is deleted",
                p.index
            ),
        );
    }
}
