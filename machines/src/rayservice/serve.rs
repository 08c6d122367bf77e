//! Serve on the clusters: the head pod's `ray.io/serve` label and the
//! submission of `serveConfigV2`.
//!
//! Invariants: a config is submitted to a cluster at most once per config
//! hash, and again only when the cluster lost it (its dashboard answers
//! with no application after it had reported some, or after its head went
//! down); a submission waits for a ready head whose dashboard answers. New
//! configs go to the pending cluster during an upgrade, to the active one
//! otherwise (and during a rollback); during an upgrade the active cluster
//! gets its config again only when it lost it and it is still the spec's.

use super::{
    command::ServiceCommand,
    input::{ServeView, Strategy},
    machine::{Outbox, Service, Submission},
};
use crate::Severity;

impl Service {
    /// Sets each head's serve label from its proxy's health.
    pub(super) fn label_heads(&mut self, context: &mut Outbox) {
        for index in self.member_indexes() {
            let Some(view) = self.world.cluster(index) else {
                continue;
            };
            let Some(label) = view.head_serve_label else {
                continue;
            };
            let want =
                view.head_ready && view.proxy_healthy && !self.spec.exclude_head_from_serve_svc;
            let memory = self.clusters.entry(index).or_default();
            if label != want && memory.label_asked != Some(want) {
                memory.label_asked = Some(want);
                context.push(ServiceCommand::LabelHead {
                    cluster: index,
                    serve: want,
                });
            }
        }
    }

    /// Submits the config where it is due: to the cluster new configs go
    /// to, and, during an upgrade, to the active cluster when it lost the
    /// config it holds and that config is still the spec's.
    pub(super) fn submit_configs(&mut self, context: &mut Outbox) {
        if self.spec.serve_config_hash.is_empty() {
            return;
        }
        let target = match (&self.active, &self.pending) {
            (Some(a), _) if self.rolling_back => a.index,
            (_, Some(p)) => p.index,
            (Some(a), None) => a.index,
            (None, None) => return,
        };
        self.submit_to(context, target, false);
        if let Some(active) = self.active.as_ref().map(|a| a.index)
            && active != target
        {
            self.submit_to(context, active, true);
        }
    }

    /// Submits the spec's config to `target` if it lacks it (with
    /// `only_if_lost`, only if it lost it).
    fn submit_to(&mut self, context: &mut Outbox, target: u32, only_if_lost: bool) {
        let hash = self.spec.serve_config_hash.clone();
        let Some(view) = self.world.cluster(target) else {
            return;
        };
        if !view.head_ready || view.terminating || view.serve == ServeView::Unknown {
            return;
        }
        let lost_apps = view.answers_without_apps();
        let capacity = self.capacity_of(target);
        let memory = self.clusters.entry(target).or_default();
        let held = memory.submitted.as_ref();
        let lost = lost_apps && held.is_some_and(|s| s.confirmed);
        let stale = held.is_none_or(|s| s.config_hash != hash);
        let due = if only_if_lost {
            lost && !stale
        } else {
            lost || stale
        };
        if !due {
            return;
        }
        memory.submitted = Some(Submission {
            config_hash: hash.clone(),
            confirmed: false,
        });
        if capacity.is_some() {
            memory.capacity_sent = capacity;
        }
        context.push(ServiceCommand::SubmitServeConfig {
            cluster: target,
            config_hash: hash,
            target_capacity: capacity,
        });
        if lost {
            context.announce(
                Severity::Warning,
                "ServeConfigLost",
                format!(
                    "cluster {target} answers without Serve applications (its head restarted without fault tolerance?): the config is submitted again"
                ),
            );
        }
    }

    /// The target capacity of a cluster in incremental mode, `None` otherwise.
    pub(super) fn capacity_of(&self, index: u32) -> Option<u8> {
        if !matches!(self.spec.strategy, Strategy::Incremental(_)) {
            return None;
        }
        let Some(m) = self.migration else {
            return Some(100);
        };
        if self.pending.as_ref().is_some_and(|p| p.index == index) {
            Some(m.pending_capacity)
        } else {
            Some(m.active_capacity)
        }
    }

    /// The active and pending indexes, active first.
    pub(super) fn member_indexes(&self) -> Vec<u32> {
        [&self.active, &self.pending]
            .into_iter()
            .flatten()
            .map(|m| m.index)
            .collect()
    }
}
