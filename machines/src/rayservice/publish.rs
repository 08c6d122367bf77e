//! The status summary: built from the phase, the roles and the last world,
//! and emitted only when it differs from the last one emitted.
//!
//! Invariant: `Ready` is True exactly when the serve Service has ready
//! endpoints (KubeRay's rule); conditions about suspension and validity
//! take precedence over it.

use std::collections::BTreeMap;

use super::{
    command::ServiceCommand,
    input::ServeView,
    machine::{Outbox, Service},
    phase::ServicePhase,
    status::{ClusterStatus, ReadyReason, ServiceStatusSummary, Suspension, UpgradeReason},
};

impl Service {
    /// Emits the status summary of `phase` when it changed.
    pub(super) fn publish(&mut self, context: &mut Outbox, phase: ServicePhase, generation: i64) {
        let endpoints = self.world.serve_endpoints;
        if endpoints > 0 && !matches!(phase, ServicePhase::Suspending | ServicePhase::Suspended) {
            self.ever_ready = true;
        }
        let ready = match phase {
            ServicePhase::Invalid => ReadyReason::ValidationFailed,
            ServicePhase::Suspending => ReadyReason::SuspendInProgress,
            ServicePhase::Suspended => ReadyReason::SuspendComplete,
            _ if endpoints > 0 => ReadyReason::NonZeroServeEndpoints,
            _ if self.ever_ready => ReadyReason::ZeroServeEndpoints,
            _ => ReadyReason::Initializing,
        };
        let upgrade = match phase {
            ServicePhase::Suspending => UpgradeReason::SuspendInProgress,
            ServicePhase::Suspended => UpgradeReason::SuspendComplete,
            _ if self.active.is_none() => UpgradeReason::Initializing,
            _ if self.pending.is_some() => UpgradeReason::BothActivePendingClustersExist,
            _ => UpgradeReason::NoPendingCluster,
        };
        let suspension = match phase {
            ServicePhase::Suspending => Suspension::Suspending,
            ServicePhase::Suspended => Suspension::Suspended,
            _ => Suspension::None,
        };
        let summary = ServiceStatusSummary {
            observed_generation: generation,
            ready,
            upgrade,
            rolling_back: phase == ServicePhase::RollingBack,
            suspension,
            active: self.active.as_ref().map(|a| self.cluster_status(a.index)),
            pending: self.pending.as_ref().map(|p| self.cluster_status(p.index)),
            num_serve_endpoints: if suspension == Suspension::None {
                endpoints
            } else {
                0
            },
            message: self.message(phase),
        };
        if self.last_status.as_ref() != Some(&summary) {
            self.last_status = Some(summary.clone());
            context.push(ServiceCommand::PublishStatus(summary));
        }
    }

    fn cluster_status(&self, index: u32) -> ClusterStatus {
        let view = self.world.cluster(index);
        let applications = match view.map(|v| &v.serve) {
            Some(ServeView::Apps(apps)) => apps.clone(),
            _ => BTreeMap::new(),
        };
        let traffic = self.world.route.as_ref().map(|r| r.weight(index));
        ClusterStatus {
            cluster: index,
            applications,
            head_ready: view.is_some_and(|v| v.head_ready),
            target_capacity: self.capacity_of(index),
            traffic_routed_percent: self.capacity_of(index).and(traffic),
        }
    }

    fn message(&self, phase: ServicePhase) -> String {
        let active = self.active.as_ref().map(|a| a.index);
        let pending = self.pending.as_ref().map(|p| p.index);
        match (phase, active, pending) {
            (ServicePhase::Invalid, ..) => "the spec is invalid".to_owned(),
            (ServicePhase::Suspending, ..) => "suspending".to_owned(),
            (ServicePhase::Suspended, ..) => "suspended".to_owned(),
            (_, Some(a), _) if !self.serving(a) => {
                format!("active cluster {a} does not serve; traffic stays on it")
            }
            (ServicePhase::RollingBack, Some(a), Some(p)) => {
                format!("rolling back from cluster {p} to cluster {a}")
            }
            (_, Some(a), Some(p)) => format!("upgrading from cluster {a} to cluster {p}"),
            (_, Some(a), None) => format!("cluster {a} serves"),
            (_, None, Some(p)) => format!("waiting for cluster {p}'s Serve applications"),
            (_, None, None) => String::new(),
        }
    }
}
