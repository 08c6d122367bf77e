//! The operator's side of the journal: durable appends of decisions, machine
//! snapshots, and restoring a machine when a cluster is first seen.
//!
//! Invariants:
//! - Correctness never depends on the journal. When it cannot be opened or a
//!   write fails, the operator keeps reconciling from the API server alone;
//!   the failure is counted ([`JournalHandle::damage_count`]) and reported by
//!   the caller as an Event or a log line.
//! - Appends are durable when they return (group-committed by the journal),
//!   and run on the blocking pool so no reconcile thread waits on a disk.
//! - Restoring never re-issues commands: it replays recorded events through
//!   the machine to rebuild its context (timers, recovery marks) and nothing
//!   else; the next observation decides what to do.

use std::{
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use rayop_journal::{Journal, Options, Timestamp, Versioned};
use rayop_machines::{ClusterMachine, Millis};
use serde::{Deserialize, Serialize};

use crate::record::{self, Record};

/// A machine as stored in a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MachineSnapshot(pub ClusterMachine);

impl Versioned for MachineSnapshot {
    const VERSION: u32 = 1;
}

/// The journal, or its absence.
pub struct JournalHandle {
    journal: Option<Journal>,
    damage: AtomicU64,
}

/// Why a journal operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The journal reported an error.
    #[error(transparent)]
    Journal(#[from] rayop_journal::Error),
    /// The blocking task did not complete.
    #[error("journal task failed: {0}")]
    Task(String),
}

fn ts(at: Millis) -> Timestamp {
    Timestamp::from_millis(i64::try_from(at.0).unwrap_or(i64::MAX))
}

impl JournalHandle {
    /// Opens the journal in `dir`. A damaged database is moved aside by the
    /// journal itself; the report says so.
    ///
    /// # Errors
    /// When the journal cannot be opened at all (held by another process,
    /// unwritable directory).
    pub fn open(
        dir: &Path,
        options: Options,
    ) -> Result<(JournalHandle, rayop_journal::OpenReport), rayop_journal::Error> {
        let (journal, report) = Journal::open(dir, options)?;
        Ok((
            JournalHandle {
                journal: Some(journal),
                damage: AtomicU64::new(0),
            },
            report,
        ))
    }

    /// A handle that journals nothing: the operator runs from the API server alone.
    #[must_use]
    pub fn disabled() -> JournalHandle {
        JournalHandle {
            journal: None,
            damage: AtomicU64::new(0),
        }
    }

    /// The journal, when one is open.
    #[must_use]
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Journal operations that failed since start.
    #[must_use]
    pub fn damage_count(&self) -> u64 {
        self.damage.load(Ordering::Relaxed)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Journal) -> Result<T, rayop_journal::Error> + Send + 'static,
    ) -> Result<Option<T>, JournalError> {
        let Some(journal) = self.journal.clone() else {
            return Ok(None);
        };
        let result = tokio::task::spawn_blocking(move || f(journal))
            .await
            .map_err(|e| JournalError::Task(e.to_string()))
            .and_then(|r| r.map_err(JournalError::from));
        if result.is_err() {
            self.damage.fetch_add(1, Ordering::Relaxed);
        }
        result.map(Some)
    }

    /// Appends `records` for stream `uid` filed under `key`, durably, and
    /// snapshots `machine` when a snapshot is due.
    ///
    /// # Errors
    /// The journal's error; the caller reports it and carries on.
    pub async fn append(
        &self,
        uid: &str,
        key: &str,
        at: Millis,
        records: Vec<Record>,
        machine: &ClusterMachine,
    ) -> Result<(), JournalError> {
        let (uid, key) = (uid.to_owned(), key.to_owned());
        let snapshot = MachineSnapshot(machine.clone());
        self.blocking(move |journal| {
            let entries: Vec<(Timestamp, Record)> =
                records.into_iter().map(|r| (ts(at), r)).collect();
            let seqs = journal.append(&uid, &key, &entries)?;
            if journal.options().snapshot_due(&seqs) && seqs.end > seqs.start {
                journal.put_snapshot(&uid, seqs.end - 1, ts(at), &snapshot)?;
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Rebuilds the machine of stream `uid` from its latest snapshot and the
    /// events after it; a fresh machine when the stream is unknown.
    ///
    /// # Errors
    /// The journal's error (the caller starts from a fresh machine).
    pub async fn restore(&self, uid: &str) -> Result<ClusterMachine, JournalError> {
        let uid = uid.to_owned();
        let restored = self
            .blocking(
                move |journal| match journal.restore::<MachineSnapshot, Record>(&uid) {
                    Ok(r) => Ok(Some(r)),
                    Err(rayop_journal::Error::UnknownStream { .. }) => Ok(None),
                    Err(e) => Err(e),
                },
            )
            .await?
            .flatten();
        let Some(restored) = restored else {
            return Ok(ClusterMachine::new());
        };
        let start = restored
            .snapshot
            .map_or_else(ClusterMachine::new, |s| s.state.0);
        let records: Vec<Record> = restored.entries.into_iter().map(|e| e.payload).collect();
        Ok(record::replay(start, &records).machine)
    }

    /// Applies the journal's retention rules as of `at`: old entries of live
    /// streams beyond their window, and deleted streams past theirs.
    ///
    /// # Errors
    /// The journal's error.
    pub async fn prune(
        &self,
        at: Millis,
    ) -> Result<Option<rayop_journal::PruneReport>, JournalError> {
        self.blocking(move |journal| journal.prune(ts(at))).await
    }

    /// Marks stream `uid` deleted at `at`; it is pruned after the retention window.
    ///
    /// # Errors
    /// The journal's error.
    pub async fn mark_deleted(&self, uid: &str, at: Millis) -> Result<(), JournalError> {
        let uid = uid.to_owned();
        self.blocking(move |journal| match journal.mark_deleted(&uid, ts(at)) {
            Err(rayop_journal::Error::UnknownStream { .. }) => Ok(()),
            other => other,
        })
        .await
        .map(|_| ())
    }
}
