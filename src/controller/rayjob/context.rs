//! What every RayJob reconcile in one watch scope shares, and each RayJob's
//! [`JobMemory`].
//!
//! Invariant: as for RayClusters, a RayJob's memory is only touched by that
//! RayJob's reconcile or deletion, so the lock is held only to take it out
//! and put it back, never across an await.

use std::sync::Arc;

use kube::{Client, runtime::events::Recorder};
use rayop_machines::{Millis, rayjob::JobMachine, rayjob::JobStatusSummary};

use super::{caches::JobCaches, dashboard_access::Dashboards};
use crate::{controller::context::WriteCounters, journaling::JournalHandle, metrics::Metrics};

/// What the RayJob interpreter remembers of one RayJob between reconciles.
#[derive(Clone, Debug, Default)]
pub struct JobCarried {
    /// The last `PublishStatus`.
    pub status: Option<JobStatusSummary>,
    /// The last `WakeAt`.
    pub wake: Option<Millis>,
    /// `Forget` was carried out.
    pub forgotten: bool,
}

impl JobCarried {
    /// Whether the wake-up is due at `now`; clears it if so.
    pub fn take_due_wake(&mut self, now: Millis) -> bool {
        crate::interpret::take_due_wake(&mut self.wake, now)
    }
}

/// One RayJob's machine and what its interpreter carries.
pub type JobMemory = crate::controller::turn::Memory<JobMachine, JobCarried>;

/// Shared state of the RayJob controller in one scope.
pub struct JobContext {
    /// The API client.
    pub client: Client,
    /// RayClusters and submitter Jobs made for RayJobs.
    pub caches: JobCaches,
    /// The journal.
    pub journal: Arc<JournalHandle>,
    /// Each RayJob's memory, by UID.
    pub memory: crate::controller::turn::Memories<JobMachine, JobCarried>,
    /// Records Kubernetes Events.
    pub recorder: Recorder,
    /// How the dashboards are reached.
    pub dashboards: Dashboards,
    /// The longest wait between two reconciles of a RayJob.
    pub resync: std::time::Duration,
    /// Writes made.
    pub writes: Arc<WriteCounters>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// True once the scope's caches have their first full list.
    pub synced: tokio::sync::watch::Receiver<bool>,
}
