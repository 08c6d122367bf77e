//! Deleting clusters: retiring the ones that are neither active nor
//! pending, deleting them when due, and suspending.
//!
//! Invariants: outside a suspension a cluster is deleted only once no
//! Service selects it and the route gives it no weight, and, when it ever
//! received traffic, only after `rayClusterDeletionDelaySeconds` from the
//! moment it was retired (a cluster that never served goes at once). The
//! deadline is journaled, so a restart does not restart the countdown.
//! Suspending deletes everything at once and runs to completion.

use super::{
    command::ServiceCommand,
    machine::{Outbox, Retiring, Service},
    phase::ServicePhase,
};
use crate::{Millis, Severity};

impl Service {
    /// Schedules the deletion of the cluster of `index`.
    pub(super) fn retire(&mut self, index: u32) {
        let served = self.clusters.get(&index).is_some_and(|c| c.served);
        let delay = if served {
            u64::from(self.spec.deletion_delay_seconds).saturating_mul(1000)
        } else {
            0
        };
        let due = self.now.plus(delay);
        self.retiring.entry(index).or_insert(Retiring {
            due,
            requested: false,
        });
    }

    /// Retires clusters of this RayService the machine does not know (left
    /// by a lost journal or an earlier operator), as if they had served.
    pub(super) fn retire_dangling(&mut self) {
        let members = self.member_indexes();
        let unknown: Vec<u32> = self
            .world
            .clusters
            .iter()
            .map(|c| c.index)
            .filter(|i| !members.contains(i) && !self.retiring.contains_key(i))
            .collect();
        for index in unknown {
            self.next_index = self.next_index.max(index.saturating_add(1));
            self.clusters.entry(index).or_default().served = true;
            self.retire(index);
        }
    }

    /// Deletes the retired clusters that are due and carry no traffic;
    /// forgets those that are gone.
    pub(super) fn delete_due(&mut self, context: &mut Outbox) {
        let gone: Vec<u32> = self
            .retiring
            .keys()
            .copied()
            .filter(|&i| self.world.cluster(i).is_none())
            .collect();
        for index in gone {
            self.retiring.remove(&index);
            self.clusters.remove(&index);
        }
        for (&index, retiring) in &mut self.retiring {
            if retiring.requested || retiring.due > self.now || self.world.has_traffic(index) {
                continue;
            }
            retiring.requested = true;
            context.push(ServiceCommand::DeleteCluster { cluster: index });
        }
    }

    /// The earliest deletion still to come.
    pub(super) fn next_deletion(&self) -> Option<Millis> {
        self.retiring
            .values()
            .filter(|r| !r.requested && r.due > self.now)
            .map(|r| r.due)
            .min()
    }

    /// Suspending: deletes the Services, the route and every cluster; the
    /// phase reached.
    pub(super) fn suspend(&mut self, context: &mut Outbox, from: ServicePhase) -> ServicePhase {
        if from != ServicePhase::Suspending {
            context.announce(
                Severity::Normal,
                "Suspending",
                "spec.suspend is true: deleting the RayClusters and Services".to_owned(),
            );
        }
        self.active = None;
        self.pending = None;
        self.migration = None;
        self.rolling_back = false;
        self.services_asked = None;
        self.route_asked = None;
        let world = &self.world;
        let services =
            world.head_service.is_some() || world.serve_service.is_some() || world.route.is_some();
        if services && !self.services_deleting {
            self.services_deleting = true;
            context.push(ServiceCommand::DeleteServices);
        }
        self.retiring
            .retain(|i, _| world.clusters.iter().any(|c| c.index == *i));
        for view in &world.clusters {
            let retiring = self.retiring.entry(view.index).or_insert(Retiring {
                due: self.now,
                requested: view.terminating,
            });
            if !retiring.requested {
                retiring.requested = true;
                context.push(ServiceCommand::DeleteCluster {
                    cluster: view.index,
                });
            }
        }
        if services || !world.clusters.is_empty() {
            return ServicePhase::Suspending;
        }
        self.services_deleting = false;
        self.clusters.clear();
        self.retiring.clear();
        self.ever_ready = false;
        context.announce(
            Severity::Normal,
            "Suspended",
            "every RayCluster and Service is deleted".to_owned(),
        );
        ServicePhase::Suspended
    }
}
