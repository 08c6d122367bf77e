//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several
//! operator replicas exactly one reconciles.
//!
//! Role: [`Elector`] takes and renews the Lease; [`Leadership`] is the shared
//! answer to "may this replica write now?", read by the API client's write
//! gate ([`crate::client::api_writes`]) and by `rayop run`, which starts the
//! controller once this replica leads and stops it when it no longer does.
//!
//! The algorithm is client-go's, on optimistic concurrency (a replace that
//! names the `resourceVersion` it read), not on wall clocks:
//! - A candidate takes the Lease when it has no holder, or when its record
//!   has not changed for `leaseDurationSeconds` *as measured on the
//!   candidate's own monotonic clock* since it first saw that record. Clock
//!   skew between nodes therefore cannot make a live leader look expired.
//! - The leader renews every `retry` period. Its right to write lasts until
//!   `renew_deadline` after it *sent* its last successful renewal; the
//!   deadline is shorter than the lease duration, so the leader stops writing
//!   before any standby can take over (margin: duration − renew deadline).
//! - On a clean shutdown the leader releases the Lease (empty holder), so a
//!   standby takes over within one retry period instead of a lease duration.
//!
//! Why not a crate: the fence needs the instant the last successful renewal
//! was *sent*, on a monotonic clock, which the lease crates available for
//! kube 5 do not expose (they compare the Lease's wall-clock `renewTime`).
//!
//! Invariants:
//! - Two replicas never both see [`Leadership::may_write`] true for the same
//!   Lease as long as the candidates' clocks advance at the same rate (no
//!   assumption on their offsets).
//! - Leadership, once lost, is never regained by the same [`Leadership`]:
//!   the process steps down and exits, and comes back as a fresh candidate.

mod elector;
mod error;
mod leadership;
mod lease;

use std::time::Duration;

pub use self::{
    elector::Elector,
    error::LeaderError,
    leadership::{Leadership, Role},
};

/// Lease timings, client-go's defaults unless configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    /// How long a Lease record that stopped changing protects its holder.
    pub lease_duration: Duration,
    /// How long after sending its last successful renewal the leader may
    /// still write; shorter than `lease_duration`.
    pub renew_deadline: Duration,
    /// How often the leader renews and a standby looks at the Lease.
    pub retry: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }
}

impl Timings {
    /// Checks `retry < renew_deadline < lease_duration`, all whole seconds.
    ///
    /// # Errors
    /// [`LeaderError::Timings`] naming the violated rule.
    pub fn validate(&self) -> Result<(), LeaderError> {
        if self.lease_duration.subsec_nanos() != 0 || self.lease_duration.is_zero() {
            return Err(LeaderError::Timings(
                "the lease duration must be a positive whole number of seconds",
            ));
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(LeaderError::Timings(
                "the renew deadline must be shorter than the lease duration",
            ));
        }
        if self.retry.is_zero() || self.retry >= self.renew_deadline {
            return Err(LeaderError::Timings(
                "the retry period must be positive and shorter than the renew deadline",
            ));
        }
        Ok(())
    }
}

/// Which Lease, and who this replica is.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The Lease's name (`--leader-elect-lease`); the same for every replica.
    pub name: String,
    /// The Lease's namespace (the operator's own).
    pub namespace: String,
    /// This replica's identity in `holderIdentity` (the pod name, unique).
    pub identity: String,
    /// Lease duration, renew deadline and retry period; checked by [`Timings::validate`].
    pub timings: Timings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_timings_are_valid_and_ordered() {
        assert_eq!(Timings::default().validate().ok(), Some(()));
        let bad = Timings {
            renew_deadline: Duration::from_secs(15),
            ..Timings::default()
        };
        assert!(bad.validate().is_err());
        let bad = Timings {
            retry: Duration::from_secs(10),
            ..Timings::default()
        };
        assert!(bad.validate().is_err());
        let bad = Timings {
            lease_duration: Duration::from_millis(1500),
            ..Timings::default()
        };
        assert!(bad.validate().is_err());
    }
}
