//! Time as data.
//!
//! The machine never reads a clock: every [`crate::Event`] carries the moment it
//! was observed as [`Millis`], milliseconds since the Unix epoch, chosen by the
//! caller. Replaying the same events therefore replays the same timers.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as supplied by the caller.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// This moment plus `ms` milliseconds, saturating instead of overflowing.
    #[must_use]
    pub fn plus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or zero when `earlier` is later.
    #[must_use]
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
