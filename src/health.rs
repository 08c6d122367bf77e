//! [`Health`]: whether this replica is ready, as `/readyz` answers it.
//!
//! Role: the readiness facts the controller (caches synced), `rayop run`
//! (journal settled) and the leader election (role) report, read by the
//! HTTP server's `/readyz`. It sits below the controller and the server so
//! both share it without the controller importing the server; it imports
//! only [`crate::leader`].
//!
//! Readiness rules:
//! - a standby (leader election on, Lease held elsewhere) is ready: it serves
//!   metrics and stands by, and a rolling update of the two-replica
//!   Deployment must be able to proceed while the other replica leads;
//! - the leader (or a replica without election) is ready once its journal
//!   is settled (open, or deliberately absent) and every watch scope's caches
//!   finished their first list;
//! - a replica that lost the Lease is not ready (it is about to exit).
//!
//! Invariant: readiness only moves forward for a leader (caches, once
//! synced, stay synced in the sense that matters here: the reflector keeps
//! serving its last state while a watch reconnects).

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use crate::leader::{Leadership, Role};

/// Readiness facts, shared by the controller, `rayop run` and the server.
#[derive(Debug)]
pub struct Health {
    leadership: Arc<Leadership>,
    scopes_expected: AtomicUsize,
    scopes_synced: AtomicUsize,
    journal_settled: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(Arc::new(Leadership::always()))
    }
}

impl Health {
    /// Health of a replica whose role `leadership` decides.
    #[must_use]
    pub fn new(leadership: Arc<Leadership>) -> Health {
        Health {
            leadership,
            scopes_expected: AtomicUsize::new(0),
            scopes_synced: AtomicUsize::new(0),
            journal_settled: AtomicBool::new(false),
        }
    }

    /// The leadership this health reports on.
    #[must_use]
    pub fn leadership(&self) -> &Arc<Leadership> {
        &self.leadership
    }

    /// The controller will run `n` watch scopes.
    pub fn expect_scopes(&self, n: usize) {
        self.scopes_expected.store(n, Ordering::SeqCst);
    }

    /// One watch scope's caches finished their first list.
    pub fn scope_synced(&self) {
        self.scopes_synced.fetch_add(1, Ordering::SeqCst);
    }

    /// The journal is open, or the operator deliberately runs without one.
    pub fn journal_settled(&self) {
        self.journal_settled.store(true, Ordering::SeqCst);
    }

    /// True once every expected scope synced.
    #[must_use]
    pub fn caches_synced(&self) -> bool {
        let expected = self.scopes_expected.load(Ordering::SeqCst);
        expected > 0 && self.scopes_synced.load(Ordering::SeqCst) >= expected
    }

    /// `Ok(what)` when ready, `Err(why not)` otherwise.
    ///
    /// # Errors
    /// A sentence saying what is missing.
    pub fn readiness(&self) -> Result<&'static str, &'static str> {
        match self.leadership.role() {
            Role::Standby => Ok("standby: waiting for the leader Lease"),
            Role::Lost => Err("lost the leader Lease; stopping"),
            Role::Leader => {
                if !self.journal_settled.load(Ordering::SeqCst) {
                    Err("the journal is not open yet")
                } else if !self.caches_synced() {
                    Err("the watch caches have not synced yet")
                } else {
                    Ok("ready")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_is_ready_with_journal_and_caches() {
        let h = Health::default();
        assert!(h.readiness().is_err());
        h.journal_settled();
        assert!(h.readiness().is_err(), "no scope expected yet");
        h.expect_scopes(2);
        h.scope_synced();
        assert!(h.readiness().is_err());
        h.scope_synced();
        assert_eq!(h.readiness(), Ok("ready"));
    }

    #[test]
    fn a_standby_is_ready() {
        let h = Health::new(Arc::new(Leadership::elected()));
        assert!(h.readiness().is_ok_and(|s| s.starts_with("standby")));
    }
}
