//! Backoff for recreating a failed head pod, driven by event time.
//!
//! Invariant: the head pod is deleted at most once per backoff window, and the
//! window doubles with every failure up to [`MAX_DELAY_MS`], so a head that keeps
//! failing is never recreated in a tight loop (KubeRay #4272). A head that stays
//! Ready for [`RESET_AFTER_MS`] earns a fresh count.

/// The first retry waits this long.
pub const BASE_DELAY_MS: u64 = 10_000;
/// No retry waits longer than this.
pub const MAX_DELAY_MS: u64 = 300_000;
/// Ready this long resets the failure count.
pub const RESET_AFTER_MS: u64 = 600_000;
/// A head not Ready after this long is reported once with a Warning.
pub const STUCK_AFTER_MS: u64 = 300_000;

/// The wait after the `failures`-th failure (1-based): 10 s, 20 s, 40 s, ... up to 5 min.
#[must_use]
pub fn delay_after(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(20);
    BASE_DELAY_MS
        .saturating_mul(1u64 << doublings)
        .min(MAX_DELAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_then_cap() {
        assert_eq!(delay_after(1), 10_000);
        assert_eq!(delay_after(2), 20_000);
        assert_eq!(delay_after(3), 40_000);
        assert_eq!(delay_after(6), 300_000);
        assert_eq!(delay_after(u32::MAX), MAX_DELAY_MS);
    }

    #[test]
    fn zero_failures_waits_the_base() {
        assert_eq!(delay_after(0), BASE_DELAY_MS);
    }
}
