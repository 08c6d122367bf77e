//! What every reconcile shares: the client, caches, journal, recorder, and
//! each cluster's [`Memory`].
//!
//! Invariant: a cluster's memory is only ever touched by that cluster's
//! reconcile or deletion (kube-runtime never runs two reconciles of one
//! object at once), so the lock is held only to take it out and put it
//! back, never across an await.

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
use crate::{apply::Carried, build::BuildOptions, journaling::JournalHandle, metrics::Metrics};

/// Counters of the API writes this operator made, by kind of write.
#[derive(Debug, Default)]
pub struct WriteCounters {
    /// Server-side applies of owned objects, and pod patches.
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

/// One cluster's machine and what the interpreter carries for it.
pub type Memory = super::turn::Memory<ClusterMachine, Carried>;

/// Shared state of the controller.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The watch caches.
    pub caches: Caches,
    /// The journal.
    pub journal: Arc<JournalHandle>,
    /// Each cluster's memory, by UID (a cluster belongs to one scope).
    pub memory: Arc<Mutex<HashMap<String, Memory>>>,
    /// Records Kubernetes Events.
    pub recorder: Recorder,
    /// Build options.
    pub build: BuildOptions,
    /// The longest wait between two reconciles of a cluster.
    pub resync: std::time::Duration,
    /// How long a head may stay not Ready before a Warning; `None` is the
    /// machine's default.
    pub head_stuck_after: Option<std::time::Duration>,
    /// Whether the Redis cleanup finalizer is used (see
    /// [`Settings::redis_cleanup`](super::Settings::redis_cleanup)).
    pub redis_cleanup: bool,
    /// Writes made.
    pub writes: Arc<WriteCounters>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// True once every cache of this scope has its first full list. Waiters
    /// use this, not `Caches::wait_until_ready`: kube-runtime's store
    /// readiness wakes only the last of several concurrent waiters.
    pub synced: tokio::sync::watch::Receiver<bool>,
    /// Whether cert-manager is installed, asked once a TLS cluster needs it.
    pub cert_manager: Arc<super::certificates::CertManagerPresence>,
}

impl Context {
    /// Takes the memory of `uid` out, if this process has it.
    #[must_use]
    pub fn take_memory(&self, uid: &str) -> Option<Memory> {
        self.memory.lock().ok().and_then(|mut m| m.remove(uid))
    }

    /// Puts the memory of `uid` back.
    pub fn keep_memory(&self, uid: &str, memory: Memory) {
        if let Ok(mut all) = self.memory.lock() {
            all.insert(uid.to_owned(), memory);
        }
    }
}
