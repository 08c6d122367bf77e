//! Which cluster is active and which pending: taking the world in, adopting
//! what exists when the machine remembers nothing, preparing a pending
//! cluster, in-place updates, replacing the pending cluster and deciding a
//! rollback.
//!
//! Invariants: a pending cluster is prepared only when the spec's cluster
//! hash differs from the active cluster's and the strategy allows new
//! clusters, and only while no pending exists (a replacement retires the
//! old pending first), so at most one pending exists. A pending cluster
//! that already carries traffic is never dropped: the machine rolls back
//! (traffic returns) before anything else.

use super::{
    command::ServiceCommand,
    input::{ServeView, ServiceSpec, ServiceWorld, Strategy},
    machine::{ClusterMemory, Member, Migration, Outbox, Service},
};
use crate::Severity;

impl Service {
    /// Folds one observation into memory.
    pub(super) fn take_world(&mut self, world: &ServiceWorld) {
        self.world = world.clone();
        for (&index, memory) in &mut self.clusters {
            match world.cluster(index) {
                Some(view) => {
                    memory.seen = true;
                    memory.create_requested = false;
                    if world.has_traffic(index) {
                        memory.served = true;
                    }
                    let has_apps = matches!(&view.serve, ServeView::Apps(a) if !a.is_empty());
                    if let Some(submission) = &mut memory.submitted
                        && (!view.head_ready || has_apps)
                    {
                        submission.confirmed = true;
                    }
                    if memory.label_asked.is_some() && memory.label_asked == view.head_serve_label {
                        memory.label_asked = None;
                    }
                }
                None if memory.seen => {
                    // Gone (deleted behind our back): whatever it held is lost.
                    *memory = ClusterMemory {
                        served: memory.served,
                        ..ClusterMemory::default()
                    };
                }
                None => {}
            }
        }
        if self
            .services_asked
            .is_some_and(|i| world.head_service == Some(i))
        {
            self.services_asked = None;
        }
        if let (Some(asked), Some(route)) = (&self.route_asked, &world.route)
            && super::traffic::route_matches(route, asked)
        {
            self.route_asked = None;
        }
    }

    /// A machine without memory takes the world as it finds it: the cluster
    /// the head Service selects is active; the newest other cluster already
    /// built for the current spec is pending.
    pub(super) fn adopt(&mut self, world: &ServiceWorld, spec: &ServiceSpec) {
        let highest = world.clusters.iter().map(|c| c.index).max().unwrap_or(0);
        self.next_index = self.next_index.max(highest.saturating_add(1)).max(1);
        let active = world.head_service.and_then(|i| world.cluster(i));
        if let Some(view) = active {
            self.active = Some(member_of(view.index, &view.cluster_hash, &view.full_hash));
            self.clusters.insert(view.index, ClusterMemory::default());
        }
        let pending = world
            .clusters
            .iter()
            .filter(|c| Some(c.index) != active.map(|a| a.index))
            .filter(|c| c.cluster_hash == spec.cluster_hash)
            .filter(|_| active.is_none_or(|a| a.cluster_hash != spec.cluster_hash))
            .max_by_key(|c| c.index);
        if let Some(view) = pending {
            self.pending = Some(member_of(view.index, &view.cluster_hash, &view.full_hash));
            self.clusters.insert(view.index, ClusterMemory::default());
        }
    }

    /// Decides the roles for the current spec.
    pub(super) fn decide_roles(&mut self, context: &mut Outbox) {
        match (self.active.clone(), self.pending.clone()) {
            (None, None) => self.prepare(),
            (None, Some(p)) => {
                if !self.update_in_place(context, true) {
                    // Nothing serves from it yet: build the current spec instead.
                    self.retire(p.index);
                    self.pending = None;
                    self.prepare();
                }
            }
            (Some(a), None) => {
                if self.update_in_place(context, false) || self.spec.strategy == Strategy::None {
                    return;
                }
                self.prepare();
                context.announce(
                    Severity::Normal,
                    "UpgradeStarted",
                    format!(
                        "the cluster spec changed: preparing cluster {} to replace cluster {}",
                        self.next_index.saturating_sub(1),
                        a.index
                    ),
                );
            }
            (Some(a), Some(p)) => self.retarget(context, &a, &p),
        }
    }

    /// Both clusters exist and the spec may have moved.
    fn retarget(&mut self, context: &mut Outbox, a: &Member, p: &Member) {
        let goal = self.spec.cluster_hash.clone();
        if self.rolling_back {
            if goal == p.cluster_hash {
                self.rolling_back = false;
                context.announce(
                    Severity::Normal,
                    "RollbackCancelled",
                    format!(
                        "the spec is cluster {}'s again: the upgrade resumes",
                        p.index
                    ),
                );
            }
            return;
        }
        if self.update_in_place(context, true) {
            return;
        }
        if self.pending_has_traffic(p.index) {
            self.rolling_back = true;
            let why = if goal == a.cluster_hash {
                "the spec went back to the active cluster's"
            } else {
                "the spec changed again during the upgrade; it is rolled back first"
            };
            context.announce(
                Severity::Normal,
                "RollbackStarted",
                format!(
                    "{why}: traffic returns from cluster {} to cluster {}",
                    p.index, a.index
                ),
            );
            return;
        }
        self.retire(p.index);
        self.pending = None;
        self.migration = None;
        if goal == a.cluster_hash || self.spec.strategy == Strategy::None {
            context.announce(
                Severity::Normal,
                "UpgradeCancelled",
                format!(
                    "the spec no longer needs cluster {}: it is deleted",
                    p.index
                ),
            );
            self.update_in_place(context, false);
        } else {
            self.prepare();
            context.announce(
                Severity::Normal,
                "UpgradeRetargeted",
                format!(
                    "the cluster spec changed during the upgrade: cluster {} replaces cluster {}",
                    self.next_index.saturating_sub(1),
                    p.index
                ),
            );
        }
    }

    /// Whether traffic reaches the pending cluster, or was asked to.
    fn pending_has_traffic(&self, index: u32) -> bool {
        self.world.has_traffic(index)
            || self.migration.is_some_and(|m| m.pending_traffic > 0)
            || self.services_asked == Some(index)
    }

    /// A fresh pending cluster for the current spec.
    fn prepare(&mut self) {
        let index = self.next_index.max(1);
        self.next_index = index.saturating_add(1);
        self.pending = Some(member_of(
            index,
            &self.spec.cluster_hash,
            &self.spec.full_hash,
        ));
        self.clusters.insert(index, ClusterMemory::default());
        self.migration = match (self.spec.strategy, &self.active) {
            (Strategy::Incremental(_), Some(_)) => Some(Migration {
                active_capacity: 100,
                pending_capacity: 0,
                pending_traffic: 0,
                last_step: None,
            }),
            _ => None,
        };
    }

    /// Brings the active (or, with `pending`, the pending) cluster to the
    /// spec in place when only replicas changed or groups were appended;
    /// whether that cluster now matches the spec.
    fn update_in_place(&mut self, context: &mut Outbox, pending: bool) -> bool {
        let spec = &self.spec;
        let slot = if pending {
            &mut self.pending
        } else {
            &mut self.active
        };
        let Some(member) = slot else {
            return false;
        };
        let same = member.cluster_hash == spec.cluster_hash;
        let compatible = !same && spec.compatible_hashes.contains(&member.cluster_hash);
        if !(compatible || (same && member.full_hash != spec.full_hash)) {
            return same;
        }
        member.cluster_hash.clone_from(&spec.cluster_hash);
        member.full_hash.clone_from(&spec.full_hash);
        if self.world.cluster(member.index).is_some() {
            context.push(ServiceCommand::UpdateCluster {
                cluster: member.index,
            });
        }
        true
    }
}

fn member_of(index: u32, cluster_hash: &str, full_hash: &str) -> Member {
    Member {
        index,
        cluster_hash: cluster_hash.to_owned(),
        full_hash: full_hash.to_owned(),
    }
}
