//! The retry policy of every watch rayop runs.
//!
//! Role: one place that decides how fast a failed watch is retried.
//! kube-runtime's default (client-go's: 0.8 s doubling to 30 s, forgotten
//! after 120 s without errors) is tuned for watches of whole clusters. An
//! API server restart breaks every watch at once: each fails to connect a
//! few times and then, because the new API server's watch cache starts at
//! the current revision, is told `410 Expired` and must relist. Under the
//! default the backoff has grown to tens of seconds by then, and the
//! operator stays blind for about a minute.
//!
//! Invariants:
//! - The first retry comes after 250 ms and no wait exceeds
//!   [`MAX_DELAY`], so the operator sees the world again within seconds of
//!   the API server's return.
//! - Jitter spreads the retries of rayop's nine watches, so they do not
//!   reconnect in lock-step.
//! - The backoff is forgotten after [`RESET_AFTER`] without errors, so a
//!   later, unrelated failure starts from the short delay again.
//! - A resource that is not served (404) is retried only every
//!   [`NOT_SERVED_RETRY`] or so: a CRD installed later is seen within that.
//! - The watches are namespaced and label-narrowed, and rayop's lists are
//!   served from the API server's watch cache (`resourceVersion=0`), so fast
//!   retries cost the API server little.

use std::time::Duration;

use kube::runtime::{utils::ResetTimerBackoff, watcher::ExponentialBackoff};

/// The first retry's delay.
pub const MIN_DELAY: Duration = Duration::from_millis(250);
/// The longest delay between two retries.
pub const MAX_DELAY: Duration = Duration::from_secs(5);
/// Error-free time after which the delay starts from [`MIN_DELAY`] again.
pub const RESET_AFTER: Duration = Duration::from_secs(30);
/// The extra wait before a watch of a resource the API server does not
/// serve (a CRD that is not installed, such as cert-manager's) is retried:
/// it will not appear within seconds, and a 404 list every few seconds per
/// absent kind is load for nothing.
pub const NOT_SERVED_RETRY: Duration = Duration::from_secs(15);

/// A fresh backoff for one watch.
#[must_use]
pub fn watch_backoff() -> ResetTimerBackoff<ExponentialBackoff> {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    ResetTimerBackoff::new(ExponentialBackoff::from(builder), RESET_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delays_start_short_grow_and_stay_capped() {
        let delays: Vec<Duration> = watch_backoff().take(20).collect();
        assert_eq!(delays.len(), 20, "the backoff never gives up");
        // Jitter adds up to one more delay on top of the base.
        assert!(
            delays[0] >= MIN_DELAY && delays[0] <= 2 * MIN_DELAY,
            "{delays:?}"
        );
        assert!(delays.iter().all(|d| *d <= 2 * MAX_DELAY), "{delays:?}");
        assert!(delays[10..].iter().all(|d| *d >= MAX_DELAY), "{delays:?}");
    }
}
