//! The durability barrier: a numbered, fsynced group flush.
//!
//! [`Commit::make_durable`] returns once everything written to the database
//! before the call is durable. Concurrent callers share flushes (see
//! `group_commit`); the leader of each flush stores the next commit epoch in
//! sled, flushes sled, fsyncs its files when [`crate::Durability::Fsync`] is
//! chosen (see `durability`), and only then records the epoch in the
//! watermark (see `watermark`).
//!
//! Invariant: the watermark never names an epoch that is not durably in
//! sled, so a watermark ahead of the stored epoch at open proves lost
//! writes.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::durability::FileSync;
use crate::error::Result;
use crate::group_commit::GroupCommit;
use crate::trees::EPOCH_KEY;
use crate::watermark::Watermark;

/// Group commit plus what one flush must update; see the module docs.
pub(crate) struct Commit {
    group: GroupCommit,
    /// The last commit epoch stored in sled (changed only by the group
    /// flush leader).
    epoch: AtomicU64,
    watermark: Watermark,
    file_sync: Option<FileSync>,
}

impl Commit {
    /// Starts from the epoch stored in the database, with its watermark and
    /// (for [`crate::Durability::Fsync`]) its file syncer.
    pub(crate) fn new(epoch: u64, watermark: Watermark, file_sync: Option<FileSync>) -> Self {
        Commit {
            group: GroupCommit::default(),
            epoch: AtomicU64::new(epoch),
            watermark,
            file_sync,
        }
    }

    /// Waits until everything written to `db` so far is durable.
    pub(crate) fn make_durable(&self, db: &sled::Db) -> Result<()> {
        self.group.wait_durable(|| {
            // Only the leader runs this closure, one at a time.
            let next = self.epoch.load(Ordering::Acquire) + 1;
            db.insert(EPOCH_KEY, &next.to_be_bytes())
                .map_err(|e| format!("store commit epoch: {e}"))?;
            db.flush().map_err(|e| format!("sled flush: {e}"))?;
            if let Some(sync) = &self.file_sync {
                sync.sync().map_err(|e| format!("fsync: {e}"))?;
            }
            self.epoch.store(next, Ordering::Release);
            self.watermark
                .record(next)
                .map_err(|e| format!("write watermark: {e}"))
        })
    }

    /// Number of group flushes run so far.
    pub(crate) fn flushes(&self) -> u64 {
        self.group.flushes()
    }

    /// Number of durable waits requested so far.
    pub(crate) fn waits(&self) -> u64 {
        self.group.waits()
    }
}
