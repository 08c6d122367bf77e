//! [`Elector`]: the loop that takes, renews and releases the Lease.
//!
//! Invariants:
//! - A standby measures a holder's silence from the moment *it* first saw
//!   the Lease's current `resourceVersion`, on its monotonic clock.
//! - The leader's write deadline moves only after a successful write of the
//!   Lease, to `sent + renew_deadline` (see [`super::Leadership`]).
//! - When the leader sees the Lease held by someone else, or its deadline
//!   passes without a successful renewal, it steps down at once.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Client, ResourceExt};
use tracing::{debug, info, warn};

use super::{
    LeaderError, Leadership, LeaseConfig, Role,
    lease::{self, LeaseApi, Written},
};
use crate::metrics::Metrics;

/// The Lease record last seen, and when it was first seen.
struct Observed {
    version: String,
    since: Instant,
}

/// Takes part in the election for one Lease.
pub struct Elector {
    lease: LeaseApi,
    leadership: Arc<Leadership>,
    metrics: Arc<Metrics>,
    observed: Option<Observed>,
    held: Option<Lease>,
}

impl Elector {
    /// An elector for `config`, reporting into `leadership` and `metrics`.
    ///
    /// # Errors
    /// [`LeaderError::Timings`] when the timings cannot work.
    pub fn new(
        client: Client,
        config: LeaseConfig,
        leadership: Arc<Leadership>,
        metrics: Arc<Metrics>,
    ) -> Result<Elector, LeaderError> {
        config.timings.validate()?;
        Ok(Elector {
            lease: LeaseApi::new(client, config),
            leadership,
            metrics,
            observed: None,
            held: None,
        })
    }

    fn config(&self) -> &LeaseConfig {
        self.lease.config()
    }

    /// Runs the election until `release` resolves (then releases the Lease
    /// if this replica holds it) or until leadership is lost.
    pub async fn run(mut self, release: impl Future<Output = ()>) {
        let mut release = std::pin::pin!(release);
        info!(
            lease = %format!("{}/{}", self.config().namespace, self.config().name),
            identity = %self.config().identity,
            "leader election: standing as a candidate"
        );
        loop {
            let wait = self.step().await;
            if self.leadership.role() == Role::Lost {
                return;
            }
            tokio::select! {
                () = &mut release => {
                    self.release().await;
                    return;
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One round; returns how long to wait before the next.
    async fn step(&mut self) -> Duration {
        let retry = self.config().timings.retry;
        let sent = Instant::now();
        if self.leadership.role() == Role::Leader
            && let Some(held) = self.held.take()
        {
            // The common case: renew what we wrote last, without reading first.
            match self.lease.hold(&held).await {
                Ok(Written::Stored(stored)) => {
                    self.won(*stored, sent);
                    return retry;
                }
                Ok(Written::Conflict) => debug!("Lease changed since our last renewal; reading it"),
                Err(error) => {
                    warn!(%error, "could not renew the leader Lease");
                    self.held = Some(held);
                    self.check_deadline();
                    return retry;
                }
            }
        }
        match self.lease.get().await {
            Err(error) => {
                warn!(%error, "could not read the leader Lease");
                self.check_deadline();
                retry
            }
            Ok(None) => {
                match self.lease.create().await {
                    Ok(Written::Stored(stored)) => self.won(*stored, sent),
                    Ok(Written::Conflict) => {}
                    Err(error) => warn!(%error, "could not create the leader Lease"),
                }
                retry
            }
            Ok(Some(current)) => self.consider(current, sent).await,
        }
    }

    /// Decides on the Lease as read at `sent`.
    async fn consider(&mut self, current: Lease, sent: Instant) -> Duration {
        let retry = self.config().timings.retry;
        let version = current.resource_version().unwrap_or_default();
        if self.observed.as_ref().map(|o| o.version.as_str()) != Some(version.as_str()) {
            self.observed = Some(Observed {
                version,
                since: sent,
            });
        }
        let holder = lease::holder(&current).map(str::to_owned);
        let mine = holder.as_deref() == Some(self.config().identity.as_str());
        if self.leadership.role() == Role::Leader && !mine {
            warn!(holder = ?holder, "the leader Lease is held by another replica; stepping down");
            self.step_down();
            return retry;
        }
        let expires = self
            .observed
            .as_ref()
            .map_or(sent, |o| o.since)
            .checked_add(Duration::from_secs(lease::duration_seconds(&current)))
            .unwrap_or(sent);
        let free = holder.is_none() || Instant::now() >= expires;
        if !mine && !free {
            // Look again at the latest when the holder's silence would expire.
            let until_expiry = expires.saturating_duration_since(Instant::now());
            return retry.min(until_expiry.max(Duration::from_millis(10)));
        }
        match self.lease.hold(&current).await {
            Ok(Written::Stored(stored)) => self.won(*stored, sent),
            Ok(Written::Conflict) => {
                debug!("another replica changed the Lease first");
                self.check_deadline();
            }
            Err(error) => {
                warn!(%error, "could not take or renew the leader Lease");
                self.check_deadline();
            }
        }
        retry
    }

    fn won(&mut self, stored: Lease, sent: Instant) {
        let was = self.leadership.role();
        self.leadership
            .renewed(sent, self.config().timings.renew_deadline);
        if self.leadership.role() != Role::Leader {
            return;
        }
        if was != Role::Leader {
            info!(identity = %self.config().identity, "became the leader");
            self.metrics.set_leader(true);
        }
        self.observed = Some(Observed {
            version: stored.resource_version().unwrap_or_default(),
            since: sent,
        });
        self.held = Some(stored);
    }

    /// A leader whose deadline passed without a renewal steps down.
    fn check_deadline(&mut self) {
        if self.leadership.role() == Role::Leader && !self.leadership.may_write() {
            warn!("could not renew the leader Lease before the renew deadline; stepping down");
            self.step_down();
        }
    }

    fn step_down(&mut self) {
        self.leadership.lose();
        self.metrics.set_leader(false);
        self.held = None;
    }

    /// Clean shutdown: stop writing, then hand the Lease over at once.
    async fn release(&mut self) {
        let was_leader = self.leadership.role() == Role::Leader;
        self.leadership.lose();
        self.metrics.set_leader(false);
        let Some(held) = self.held.take() else {
            return;
        };
        if !was_leader {
            return;
        }
        match self.lease.release(&held).await {
            Ok(Written::Stored(_)) => info!("released the leader Lease"),
            Ok(Written::Conflict) => debug!("the Lease changed before it could be released"),
            Err(error) => {
                warn!(%error, "could not release the leader Lease; a standby takes over when it expires")
            }
        }
    }
}
