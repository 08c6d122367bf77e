//! One convergence pass: from the spec and the last world, what every
//! phase after New does, in the fixed order of the commands.
//!
//! Invariant: the pass only reads `self.spec` and `self.world`, so an
//! observation and a later `Tick` (which reuses that world at its own
//! moment) decide alike, and the memories of asked commands keep the tick
//! from repeating any.

use super::{
    command::ServiceCommand,
    machine::{Outbox, Service},
    phase::ServicePhase,
};
use crate::Severity;

impl Service {
    /// Converges and returns the phase reached.
    pub(super) fn converge(&mut self, context: &mut Outbox, from: ServicePhase) -> ServicePhase {
        let generation = self.spec.generation;
        let suspending = from == ServicePhase::Suspending
            || (self.spec.suspend && from != ServicePhase::Suspended);
        if suspending {
            let to = self.suspend(context, from);
            self.publish(context, to, generation);
            return to;
        }
        if from == ServicePhase::Suspended {
            if self.spec.suspend {
                self.publish(context, ServicePhase::Suspended, generation);
                return ServicePhase::Suspended;
            }
            context.announce(
                Severity::Normal,
                "Resumed",
                "spec.suspend is false: the RayCluster and Services are created again".to_owned(),
            );
        }
        self.promote(context);
        self.decide_roles(context);
        self.ensure_clusters(context);
        self.label_heads(context);
        self.submit_configs(context);
        self.migrate(context);
        self.point_services(context);
        self.finish_rollback(context);
        self.retire_dangling();
        self.delete_due(context);
        let phase = self.settled();
        self.watch_active(context);
        self.publish(context, phase, generation);
        phase
    }

    /// The phase the roles stand for.
    fn settled(&self) -> ServicePhase {
        match (&self.active, &self.pending) {
            (None, _) => ServicePhase::WaitForServeDeploymentReady,
            (Some(_), None) => ServicePhase::Running,
            (Some(_), Some(_)) if self.rolling_back => ServicePhase::RollingBack,
            (Some(_), Some(_)) => ServicePhase::Upgrading,
        }
    }

    /// Creates the active or pending cluster when it does not exist.
    fn ensure_clusters(&mut self, context: &mut Outbox) {
        for index in self.member_indexes() {
            if self.world.cluster(index).is_some() {
                continue;
            }
            let memory = self.clusters.entry(index).or_default();
            if !memory.create_requested {
                memory.create_requested = true;
                context.push(ServiceCommand::CreateCluster { cluster: index });
            }
        }
    }

    /// Announces once when the active cluster stops serving, and when it
    /// serves again; traffic stays on it meanwhile.
    fn watch_active(&mut self, context: &mut Outbox) {
        let Some(active) = self.active.as_ref().map(|a| a.index) else {
            return;
        };
        let serving = self.serving(active);
        if !serving && !self.loss_announced {
            self.loss_announced = true;
            context.announce(
                Severity::Warning,
                "ActiveClusterUnhealthy",
                format!(
                    "cluster {active} does not serve (head not ready, or applications not all RUNNING); traffic stays on it until a healthy cluster serves"
                ),
            );
        } else if serving && self.loss_announced {
            self.loss_announced = false;
            context.announce(
                Severity::Normal,
                "ActiveClusterRecovered",
                format!("cluster {active} serves again"),
            );
        }
    }
}
