//! Caller-supplied time.
//!
//! The journal never reads a clock to stamp entries: the caller passes the
//! event time, so replaying a journal never depends on when it is replayed.
//! Retention decisions take `now` as a parameter for the same reason.
//!
//! Invariant: a [`Timestamp`] is whole milliseconds since the Unix epoch
//! (negative values are allowed and mean "before 1970").

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as supplied by the caller.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch, as given to [`Timestamp::from_millis`]; may be negative.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This timestamp moved `by` later, saturating at the representable range.
    pub fn saturating_add(self, by: std::time::Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(by)))
    }

    /// This timestamp moved `by` earlier, saturating at the representable range.
    pub fn saturating_sub(self, by: std::time::Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(by)))
    }
}

fn duration_millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(i64::MAX - 1);
        assert_eq!(
            t.saturating_add(Duration::from_secs(10)).as_millis(),
            i64::MAX
        );
        let t = Timestamp::from_millis(1_000);
        assert_eq!(
            t.saturating_sub(Duration::from_millis(250)).as_millis(),
            750
        );
    }
}
