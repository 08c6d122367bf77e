//! Tunables of a journal: retention, snapshot cadence, durability, cache.
//!
//! Invariant: the options only change *when* data is pruned or flushed, never
//! what a successful read returns for data that is still retained.

use std::ops::Range;
use std::time::Duration;

use crate::damage::DamagePolicy;
use crate::durability::Durability;

/// Options for [`crate::Journal::open`]; they change when data is pruned or flushed, never what a
/// read returns.
#[derive(Debug, Clone)]
pub struct Options {
    /// K: a live stream keeps at least its last K entries (at least 1 is
    /// always kept, so a stream's last sequence number survives pruning).
    pub keep_entries: u64,
    /// T: a live stream keeps at least the entries stamped within this
    /// duration before `now`. Whichever of K and T keeps more wins.
    pub keep_for: Duration,
    /// A stream marked deleted is removed entirely this long after its
    /// deletion time.
    pub deleted_retention: Duration,
    /// The caller snapshots every this many entries (0: never); see
    /// [`Options::should_snapshot`] and [`Options::snapshot_due`].
    pub snapshot_every: u64,
    /// How far `append` goes before returning.
    pub durability: Durability,
    /// sled's page cache size in bytes.
    pub cache_capacity: u64,
    /// What `open` does with a damaged database.
    pub damage_policy: DamagePolicy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_entries: 1_000,
            keep_for: Duration::from_secs(7 * 24 * 3600),
            deleted_retention: Duration::from_secs(14 * 24 * 3600),
            snapshot_every: 100,
            durability: Durability::Fsync,
            cache_capacity: 64 * 1024 * 1024,
            damage_policy: DamagePolicy::MoveAside,
        }
    }
}

impl Options {
    /// True if the state after applying entry `seq` should be snapshotted.
    pub fn should_snapshot(&self, seq: u64) -> bool {
        self.snapshot_every != 0 && seq != 0 && seq.is_multiple_of(self.snapshot_every)
    }

    /// True if an append that produced `seqs` crossed a snapshot point; the
    /// caller then snapshots its state at `seqs.end - 1`.
    pub fn snapshot_due(&self, seqs: &Range<u64>) -> bool {
        if self.snapshot_every == 0 || seqs.is_empty() {
            return false;
        }
        let last = seqs.end - 1;
        let multiple = last - last % self.snapshot_every;
        multiple >= seqs.start && multiple != 0
    }

    /// `keep_entries`, never below 1, so a stream's last seq always survives pruning.
    pub(crate) fn effective_keep_entries(&self) -> u64 {
        self.keep_entries.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_points() {
        let o = Options {
            snapshot_every: 10,
            ..Options::default()
        };
        assert!(o.should_snapshot(10) && o.should_snapshot(20));
        assert!(!o.should_snapshot(0) && !o.should_snapshot(11));
        assert!(o.snapshot_due(&(8..12)));
        assert!(o.snapshot_due(&(10..11)));
        assert!(!o.snapshot_due(&(11..20)));
        assert!(!o.snapshot_due(&(1..10)));
        assert!(!o.snapshot_due(&(5..5)));
        let never = Options {
            snapshot_every: 0,
            ..Options::default()
        };
        assert!(!never.should_snapshot(10) && !never.snapshot_due(&(1..100)));
    }
}
