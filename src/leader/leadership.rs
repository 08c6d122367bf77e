//! [`Leadership`]: whether this replica leads, and until when it may write.
//!
//! Invariants:
//! - [`Leadership::may_write`] is true only before the local write deadline,
//!   measured on the monotonic clock; it turns false by itself when the
//!   deadline passes, even if the elector task is stuck.
//! - [`Role::Lost`] is final.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::client::WriteGate;

/// This replica's part in the election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Waiting for the Lease; every replica starts here under election.
    Standby,
    /// Holding the Lease (or running without leader election).
    Leader,
    /// Held the Lease and lost it (or released it): must not write again.
    Lost,
}

impl Role {
    /// A word for logs and `/readyz`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Standby => "standby",
            Role::Leader => "leader",
            Role::Lost => "lost",
        }
    }
}

#[derive(Debug)]
enum Mode {
    /// No election (`--leader-elect` off): always the leader, never a deadline.
    Always,
    /// Elected: may write until the deadline.
    Elected { deadline: Mutex<Option<Instant>> },
}

/// Whether this replica leads, shared by the elector (which sets it) and every writer.
#[derive(Debug)]
pub struct Leadership {
    mode: Mode,
    role: watch::Sender<Role>,
}

impl Leadership {
    /// Leadership without election: the leader, always allowed to write.
    #[must_use]
    pub fn always() -> Leadership {
        Leadership {
            mode: Mode::Always,
            role: watch::Sender::new(Role::Leader),
        }
    }

    /// Leadership decided by an [`super::Elector`]: a standby until it wins.
    #[must_use]
    pub fn elected() -> Leadership {
        Leadership {
            mode: Mode::Elected {
                deadline: Mutex::new(None),
            },
            role: watch::Sender::new(Role::Standby),
        }
    }

    /// True when a Lease decides leadership.
    #[must_use]
    pub fn is_elected(&self) -> bool {
        matches!(self.mode, Mode::Elected { .. })
    }

    /// The current role; only the elector changes it, and `Lost` is final.
    #[must_use]
    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    /// Waits until this replica leads; `false` if it can no longer (lost).
    pub async fn wait_leader(&self) -> bool {
        let mut rx = self.role.subscribe();
        let role = rx
            .wait_for(|r| *r != Role::Standby)
            .await
            .map_or(Role::Lost, |r| *r);
        role == Role::Leader
    }

    /// Waits until leadership is lost; never returns without election.
    pub async fn wait_lost(&self) {
        let mut rx = self.role.subscribe();
        if rx.wait_for(|r| *r == Role::Lost).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Won or renewed: may write until `sent + renew_deadline`, where `sent`
    /// is when the successful request was sent.
    pub(super) fn renewed(&self, sent: Instant, renew_deadline: Duration) {
        if let Mode::Elected { deadline } = &self.mode {
            if self.role() == Role::Lost {
                return;
            }
            if let Ok(mut d) = deadline.lock() {
                *d = Some(sent + renew_deadline);
            }
            self.role.send_if_modified(|r| {
                let changed = *r != Role::Leader;
                *r = Role::Leader;
                changed
            });
        }
    }

    /// When the current write deadline passes (`None` when not leading).
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Always => None,
            Mode::Elected { deadline } => deadline.lock().ok().and_then(|d| *d),
        }
    }

    /// Stepped down: no more writes, ever.
    pub(super) fn lose(&self) {
        if let Mode::Elected { deadline } = &self.mode
            && let Ok(mut d) = deadline.lock()
        {
            *d = None;
        }
        self.role.send_if_modified(|r| {
            let changed = *r != Role::Lost;
            *r = Role::Lost;
            changed
        });
    }

    /// True while this replica may write to the API server.
    #[must_use]
    pub fn may_write(&self) -> bool {
        match &self.mode {
            Mode::Always => true,
            Mode::Elected { deadline } => deadline
                .lock()
                .ok()
                .and_then(|d| *d)
                .is_some_and(|d| Instant::now() < d),
        }
    }
}

impl WriteGate for Leadership {
    fn may_write(&self) -> bool {
        Leadership::may_write(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_writes() {
        let l = Leadership::always();
        assert!(l.may_write());
        assert_eq!(l.role(), Role::Leader);
        assert!(!l.is_elected());
    }

    #[test]
    fn elected_writes_only_before_its_deadline() {
        let l = Leadership::elected();
        assert!(!l.may_write());
        assert_eq!(l.role(), Role::Standby);
        l.renewed(Instant::now(), Duration::from_secs(60));
        assert!(l.may_write());
        assert_eq!(l.role(), Role::Leader);
        // A renewal sent long ago gives a deadline already past.
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(120))
            .unwrap_or_else(Instant::now);
        l.renewed(long_ago, Duration::from_secs(1));
        assert!(!l.may_write());
        l.lose();
        assert_eq!(l.role(), Role::Lost);
        l.renewed(Instant::now(), Duration::from_secs(60));
        assert!(!l.may_write(), "lost is final");
        assert_eq!(l.role(), Role::Lost);
    }

    #[tokio::test]
    async fn waiters_see_the_outcome() {
        let l = std::sync::Arc::new(Leadership::elected());
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.wait_leader().await })
        };
        l.renewed(Instant::now(), Duration::from_secs(60));
        assert!(waiter.await.unwrap_or(false));
        let lost = {
            let l = l.clone();
            tokio::spawn(async move { l.wait_lost().await })
        };
        l.lose();
        assert!(lost.await.is_ok());
        assert!(!l.wait_leader().await);
    }
}
