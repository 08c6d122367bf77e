//! The operator's Prometheus metrics, kept with prometheus-client and served
//! as OpenMetrics text on `/metrics` by the HTTP server.
//!
//! Role: one [`Metrics`] per process, shared by the controller (reconcile
//! results and durations, transitions, clusters by phase, journal appends),
//! the API client (writes by verb and kind, counted by the layer in
//! [`crate::client::api_writes`]) and the leader election (whether this
//! replica leads). This module holds the metric families only; it imports
//! nothing above [`crate::journaling`].
//!
//! Invariants:
//! - Every family is registered at construction. Families with a fixed label
//!   set (reconcile results, phases, journal, leader) are exposed at zero
//!   before any activity; those labelled by transition or by written kind
//!   appear with their first observation.
//! - Label values come from small closed sets (results, phases, verbs, API
//!   resource kinds), never from cluster names or UIDs: cardinality is bounded.
//! - Recording never fails and never blocks on I/O.

mod journal_damage;
pub use self::journal_damage::open_journal;
mod labels;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus_client::{
    encoding::text::encode,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
        info::Info,
    },
    registry::Registry,
};

use self::{
    journal_damage::JournalDamage,
    labels::{PhaseLabels, ResultLabels, TransitionLabels, VersionLabels, WriteLabels},
};
use rayop_machines::Phase;

use crate::journaling::JournalHandle;

/// How one reconcile ended, as the `result` label of
/// `rayop_reconciles_total` and `rayop_reconcile_duration_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileResult {
    /// The pipeline ran and every command succeeded.
    Ok,
    /// The pipeline ran and a command or the status write failed.
    Error,
    /// Nothing was decided: the object does not decode, is being deleted,
    /// is managed elsewhere, or the caches were not synced yet.
    Skipped,
}

impl ReconcileResult {
    /// The `result` label value: `ok`, `error` or `skipped`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Ok => "ok",
            ReconcileResult::Error => "error",
            ReconcileResult::Skipped => "skipped",
        }
    }
}

/// The operator's metric families, one per process; every method only touches atomics or a short
/// lock.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_duration: Family<ResultLabels, Histogram>,
    transitions: Family<TransitionLabels, Counter>,
    clusters: Family<PhaseLabels, Gauge>,
    phase_of: Mutex<HashMap<String, String>>,
    api_writes: Family<WriteLabels, Counter>,
    api_writes_refused: Family<WriteLabels, Counter>,
    journal_append_duration: Histogram,
    journal_append_bytes: Counter,
    journal_damage: Arc<JournalDamage>,
    leader: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn seconds_histogram(start: f64) -> Histogram {
    // 16 doublings: 1 ms … 33 s for reconciles, 0.1 ms … 3.3 s for appends.
    Histogram::new(exponential_buckets(start, 2.0, 16))
}

impl Metrics {
    /// Every family registered, all at zero.
    #[must_use]
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabels, Counter>::default();
        let reconcile_duration = Family::<ResultLabels, Histogram>::new_with_constructor(
            (|| seconds_histogram(0.001)) as fn() -> Histogram,
        );
        let transitions = Family::<TransitionLabels, Counter>::default();
        let clusters = Family::<PhaseLabels, Gauge>::default();
        let api_writes = Family::<WriteLabels, Counter>::default();
        let api_writes_refused = Family::<WriteLabels, Counter>::default();
        let journal_append_duration = seconds_histogram(0.0001);
        let journal_append_bytes = Counter::default();
        let journal_damage = Arc::new(JournalDamage::default());
        let leader = Gauge::default();

        registry.register(
            "rayop_reconciles",
            "Reconciles of RayClusters, by result (ok, error, skipped)",
            reconciles.clone(),
        );
        registry.register(
            "rayop_reconcile_duration_seconds",
            "Duration of one reconcile of one RayCluster, by result",
            reconcile_duration.clone(),
        );
        registry.register(
            "rayop_transitions",
            "Phase transitions of the per-cluster state machines, by from and to phase",
            transitions.clone(),
        );
        registry.register(
            "rayop_clusters",
            "RayClusters this replica reconciles, by the phase of their machine",
            clusters.clone(),
        );
        registry.register(
            "rayop_api_writes",
            "Write requests sent to the API server, by verb (create, update, apply, patch, delete) and kind",
            api_writes.clone(),
        );
        registry.register(
            "rayop_api_writes_refused",
            "Write requests refused before sending because this replica does not hold the leader lease, by verb and kind",
            api_writes_refused.clone(),
        );
        registry.register(
            "rayop_journal_append_duration_seconds",
            "Duration of one durable journal append (group commit included)",
            journal_append_duration.clone(),
        );
        registry.register(
            "rayop_journal_append_bytes",
            "Bytes of records appended to the journal (JSON payload size)",
            journal_append_bytes.clone(),
        );
        registry.register_collector(Box::new(journal_damage.clone()));
        registry.register(
            "rayop_leader",
            "1 when this replica holds the leader lease (or runs without leader election), else 0",
            leader.clone(),
        );
        registry.register(
            "rayop_build",
            "The running rayop version",
            Info::new(VersionLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            }),
        );
        for phase in Phase::ALL.iter().filter(|p| **p != Phase::Deleted) {
            let _ = clusters.get_or_create(&PhaseLabels {
                phase: phase.as_str().to_owned(),
            });
        }
        for result in [
            ReconcileResult::Ok,
            ReconcileResult::Error,
            ReconcileResult::Skipped,
        ] {
            let labels = ResultLabels {
                result: result.as_str(),
            };
            let _ = reconciles.get_or_create(&labels);
            let _ = reconcile_duration.get_or_create(&labels);
        }
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            transitions,
            clusters,
            phase_of: Mutex::new(HashMap::new()),
            api_writes,
            api_writes_refused,
            journal_append_duration,
            journal_append_bytes,
            journal_damage,
            leader,
        }
    }

    /// Counts one reconcile and its duration.
    pub fn reconciled(&self, result: ReconcileResult, took: Duration) {
        let labels = ResultLabels {
            result: result.as_str(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Counts one phase transition in `rayop_transitions`; its label pair appears on first use.
    pub fn transition(&self, from: &str, to: &str) {
        self.transitions
            .get_or_create(&TransitionLabels {
                from: from.to_owned(),
                to: to.to_owned(),
            })
            .inc();
    }

    /// Records that cluster `uid` is now in `phase` (`Deleted` forgets it).
    pub fn cluster_phase(&self, uid: &str, phase: &str) {
        if phase == "Deleted" {
            self.forget_cluster(uid);
            return;
        }
        let Ok(mut phases) = self.phase_of.lock() else {
            return;
        };
        let previous = phases.insert(uid.to_owned(), phase.to_owned());
        if previous.as_deref() == Some(phase) {
            return;
        }
        if let Some(previous) = previous {
            self.clusters
                .get_or_create(&PhaseLabels { phase: previous })
                .dec();
        }
        self.clusters
            .get_or_create(&PhaseLabels {
                phase: phase.to_owned(),
            })
            .inc();
    }

    /// Stops counting cluster `uid` (it was deleted).
    pub fn forget_cluster(&self, uid: &str) {
        let Ok(mut phases) = self.phase_of.lock() else {
            return;
        };
        if let Some(previous) = phases.remove(uid) {
            self.clusters
                .get_or_create(&PhaseLabels { phase: previous })
                .dec();
        }
    }

    /// Counts one write request sent to the API server.
    pub fn api_write(&self, verb: &'static str, kind: &str) {
        self.api_writes
            .get_or_create(&WriteLabels {
                verb,
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Counts one write request refused because this replica may not write.
    pub fn api_write_refused(&self, verb: &'static str, kind: &str) {
        self.api_writes_refused
            .get_or_create(&WriteLabels {
                verb,
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Records one journal append of `bytes` payload bytes that took `took`.
    pub fn journal_append(&self, took: Duration, bytes: u64) {
        self.journal_append_duration.observe(took.as_secs_f64());
        self.journal_append_bytes.inc_by(bytes);
    }

    /// Counts damage found when the journal was opened (a database moved
    /// aside, acknowledged writes found missing, quarantined streams).
    pub fn journal_opened(&self, report: &rayop_journal::OpenReport) {
        self.journal_damage
            .add_at_open(journal_damage::findings(report));
    }

    /// Lets the damage metric read the failed-operation count of `journal`.
    pub fn watch_journal(&self, journal: Arc<JournalHandle>) {
        self.journal_damage.watch(journal);
    }

    /// Sets whether this replica is the leader.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// True while `rayop_leader` is 1: leading, or running without `--leader-elect`.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    /// Every family as OpenMetrics text, the body of `/metrics`.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would leave a
        // truncated exposition, which the scraper rejects visibly.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests;
