//! What every reconcile shares: the client, caches, journal, machines, recorder.
//!
//! Invariant: a cluster's machine is only ever touched by that cluster's
//! reconcile (kube-runtime never runs two reconciles of one object at once),
//! so the registry lock is held only to take a machine out and put it back,
//! never across an await.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use kube::{Client, runtime::events::Recorder};
use rayop_machines::ClusterMachine;

use super::caches::Caches;
use crate::journaling::JournalHandle;
use crate::{build::BuildOptions, metrics::Metrics};

/// Counters of the API writes this operator made, by kind of write.
#[derive(Debug, Default)]
pub struct WriteCounters {
    /// Server-side applies of owned objects.
    pub applies: AtomicU64,
    /// Deletes of owned objects and pods.
    pub deletes: AtomicU64,
    /// Status writes.
    pub status: AtomicU64,
    /// Events recorded.
    pub events: AtomicU64,
}

impl WriteCounters {
    /// All writes so far.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.applies.load(Ordering::Relaxed)
            + self.deletes.load(Ordering::Relaxed)
            + self.status.load(Ordering::Relaxed)
            + self.events.load(Ordering::Relaxed)
    }
}

/// Shared state of the controller.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The watch caches.
    pub caches: Caches,
    /// The journal.
    pub journal: Arc<JournalHandle>,
    /// Machines by cluster UID.
    pub machines: Arc<Mutex<HashMap<String, ClusterMachine>>>,
    /// Records Kubernetes Events.
    pub recorder: Recorder,
    /// Build options.
    pub build: BuildOptions,
    /// The longest wait between two reconciles of a cluster.
    pub resync: std::time::Duration,
    /// Writes made.
    pub writes: Arc<WriteCounters>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// True once every cache of this scope has its first full list. Waiters
    /// use this, not `Caches::wait_until_ready`: kube-runtime's store
    /// readiness wakes only the last of several concurrent waiters.
    pub synced: tokio::sync::watch::Receiver<bool>,
    /// When each cluster's status was last written by this process, for
    /// [`crate::status::pacing`].
    pub status_writes: Mutex<HashMap<String, std::time::Instant>>,
}

impl Context {
    /// Takes the machine of `uid` out of the registry, if it is there.
    #[must_use]
    pub fn take_machine(&self, uid: &str) -> Option<ClusterMachine> {
        self.machines.lock().ok().and_then(|mut m| m.remove(uid))
    }

    /// When the status of `uid` was last written by this process.
    #[must_use]
    pub fn last_status_write(&self, uid: &str) -> Option<std::time::Instant> {
        self.status_writes
            .lock()
            .ok()
            .and_then(|w| w.get(uid).copied())
    }

    /// Notes that the status of `uid` was written now.
    pub fn status_written(&self, uid: &str) {
        if let Ok(mut writes) = self.status_writes.lock() {
            writes.insert(uid.to_owned(), std::time::Instant::now());
        }
    }

    /// Forgets the status pacing of a deleted cluster.
    pub fn forget_status(&self, uid: &str) {
        if let Ok(mut writes) = self.status_writes.lock() {
            writes.remove(uid);
        }
    }

    /// Puts the machine of `uid` back.
    pub fn put_machine(&self, uid: &str, machine: ClusterMachine) {
        if let Ok(mut machines) = self.machines.lock() {
            machines.insert(uid.to_owned(), machine);
        }
    }
}
