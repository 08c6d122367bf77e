//! The operator's side of the journal: durable appends of decisions, machine
//! snapshots, and restoring a machine when a cluster is first seen.
//!
//! Invariants:
//! - Correctness never depends on the journal. When it cannot be opened or a
//!   write fails, the operator keeps reconciling from the API server alone;
//!   the failure is counted ([`JournalHandle::damage_count`]) and reported by
//!   the caller as an Event or a log line.
//! - A journal that failed heals: sled latches its first I/O error (a full
//!   disk stays an error after space is freed), so after a storage failure,
//!   or an open that failed, [`JournalHandle::heal`] drops the database and
//!   opens it again; the controller calls it periodically. A database found
//!   damaged on reopen is moved aside by the journal itself.
//! - Appends are durable when they return (group-committed by the journal),
//!   and run on the blocking pool so no reconcile thread waits on a disk.
//! - Restoring never re-issues commands: it replays recorded events through
//!   the machine to rebuild its context (timers, recovery marks) and nothing
//!   else; the next observation decides what to do.

use std::{
    path::{Path, PathBuf},
    sync::{
        RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use rayop_journal::{Journal, Options, Timestamp, Versioned};
use rayop_machines::{ClusterMachine, Machine, Millis};
use serde::{Deserialize, Serialize};

use crate::record::{self, Record};

/// A machine as stored in a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent, bound(serialize = "", deserialize = ""))]
pub struct MachineSnapshot<M: Machine = ClusterMachine>(pub M);

impl<M: Machine> Versioned for MachineSnapshot<M> {
    const VERSION: u32 = M::SNAPSHOT_VERSION;
}

/// The kind of object a journal stream is for. One journal holds the
/// streams of every kind; the kind is told by the stream's index key, so the
/// journal itself stays unaware of kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// A RayCluster: keyed `namespace/name`, as before other kinds existed.
    RayCluster,
    /// A RayJob: keyed `RayJob:namespace/name`.
    RayJob,
    /// A RayCronJob: keyed `RayCronJob:namespace/name`.
    RayCronJob,
}

impl StreamKind {
    /// The kinds whose keys start with `<kind>:` (all but RayCluster).
    const PREFIXED: [StreamKind; 2] = [StreamKind::RayJob, StreamKind::RayCronJob];

    /// The index key of the stream of `namespace/name` of this kind.
    #[must_use]
    pub fn key(self, namespace: &str, name: &str) -> String {
        match self {
            StreamKind::RayCluster => format!("{namespace}/{name}"),
            StreamKind::RayJob | StreamKind::RayCronJob => {
                format!("{}:{namespace}/{name}", self.as_str())
            }
        }
    }

    /// The kind's name, as the API spells it: `RayCluster`, `RayJob`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::RayCluster => "RayCluster",
            StreamKind::RayJob => "RayJob",
            StreamKind::RayCronJob => "RayCronJob",
        }
    }

    /// The kind of the stream filed under `key`, and its `namespace/name`.
    #[must_use]
    pub fn of_key(key: &str) -> (StreamKind, &str) {
        Self::PREFIXED
            .iter()
            .find_map(|kind| {
                let rest = key.strip_prefix(kind.as_str())?.strip_prefix(':')?;
                Some((*kind, rest))
            })
            .unwrap_or((StreamKind::RayCluster, key))
    }
}

/// The journal, or its absence.
pub struct JournalHandle {
    /// Where the journal lives, to reopen it; `None` when disabled.
    home: Option<(PathBuf, Options)>,
    journal: RwLock<Option<Journal>>,
    damage: AtomicU64,
    /// A storage failure (or a failed open) awaits [`JournalHandle::heal`].
    broken: AtomicBool,
}

/// How [`JournalHandle::open_or_later`] went.
#[derive(Debug)]
pub enum Opened {
    /// Open; the report says what the open found.
    Open(rayop_journal::OpenReport),
    /// Not open now, for this reason; reopening is retried.
    Later(rayop_journal::Error),
}

/// What [`JournalHandle::heal`] did.
#[derive(Debug)]
pub enum Heal {
    /// Nothing to heal.
    Healthy,
    /// The journal was reopened; the report says what the open found.
    Reopened(rayop_journal::OpenReport),
    /// The journal still cannot be opened.
    StillBroken(rayop_journal::Error),
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
    /// The journal failed earlier and has not been reopened yet.
    #[error(
        "journal unavailable since an earlier storage failure; reopening is retried periodically"
    )]
    Unavailable,
}

impl JournalError {
    /// Whether the failure is the storage's (disk full, unwritable, damaged
    /// database), after which sled must be reopened, rather than one
    /// record's or one stream's.
    #[must_use]
    pub fn is_storage_failure(&self) -> bool {
        matches!(
            self,
            JournalError::Journal(
                rayop_journal::Error::Io { .. }
                    | rayop_journal::Error::Storage { .. }
                    | rayop_journal::Error::Durability { .. }
                    | rayop_journal::Error::DatabaseDamaged { .. }
            ) | JournalError::Unavailable
        )
    }
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
        let (journal, report) = Journal::open(dir, options.clone())?;
        Ok((
            JournalHandle {
                home: Some((dir.to_path_buf(), options)),
                journal: RwLock::new(Some(journal)),
                damage: AtomicU64::new(0),
                broken: AtomicBool::new(false),
            },
            report,
        ))
    }

    /// Opens the journal in `dir`, or, when it cannot be opened now for any
    /// reason but another holder, returns a handle that keeps retrying (see
    /// [`JournalHandle::unavailable`]) with the reason.
    ///
    /// # Errors
    /// [`rayop_journal::Error::Locked`]: another process holds the journal,
    /// which waiting in this process cannot fix.
    pub fn open_or_later(
        dir: &Path,
        options: Options,
    ) -> Result<(JournalHandle, Opened), rayop_journal::Error> {
        match JournalHandle::open(dir, options.clone()) {
            Ok((handle, report)) => Ok((handle, Opened::Open(report))),
            Err(error @ rayop_journal::Error::Locked { .. }) => Err(error),
            Err(error) => Ok((
                JournalHandle::unavailable(dir, options),
                Opened::Later(error),
            )),
        }
    }

    /// A handle for a journal in `dir` that could not be opened now (an
    /// unwritable or full volume): it journals nothing until
    /// [`JournalHandle::heal`] manages to open it.
    #[must_use]
    pub fn unavailable(dir: &Path, options: Options) -> JournalHandle {
        JournalHandle {
            home: Some((dir.to_path_buf(), options)),
            journal: RwLock::new(None),
            damage: AtomicU64::new(1),
            broken: AtomicBool::new(true),
        }
    }

    /// A handle that journals nothing: the operator runs from the API server alone.
    #[must_use]
    pub fn disabled() -> JournalHandle {
        JournalHandle {
            home: None,
            journal: RwLock::new(None),
            damage: AtomicU64::new(0),
            broken: AtomicBool::new(false),
        }
    }

    /// The journal, when one is open (a cheap clone of a shared handle).
    #[must_use]
    pub fn journal(&self) -> Option<Journal> {
        self.journal.read().ok().and_then(|j| j.clone())
    }

    /// Journal operations that failed since start.
    #[must_use]
    pub fn damage_count(&self) -> u64 {
        self.damage.load(Ordering::Relaxed)
    }

    /// Whether the journal is open and no storage failure awaits healing.
    /// A disabled journal is healthy: nothing is wrong with it.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        !self.broken.load(Ordering::Relaxed)
    }

    /// Reopens the journal after a storage failure or a failed open.
    ///
    /// sled keeps failing after its first I/O error, even once the cause
    /// (a full disk) is gone, so the database is dropped and opened again.
    /// When an operation still holds the old database, the open finds it
    /// locked and the next call tries again.
    pub fn heal(&self) -> Heal {
        let Some((dir, options)) = &self.home else {
            return Heal::Healthy;
        };
        if self.is_healthy() {
            return Heal::Healthy;
        }
        let Ok(mut slot) = self.journal.write() else {
            return Heal::StillBroken(rayop_journal::Error::Durability {
                reason: "journal handle poisoned".into(),
            });
        };
        if let Some(old) = slot.take() {
            // Best effort: the old database is failing by definition.
            let _ = old.flush();
        }
        match Journal::open(dir, options.clone()) {
            Ok((journal, report)) => {
                *slot = Some(journal);
                self.broken.store(false, Ordering::Relaxed);
                Heal::Reopened(report)
            }
            Err(error) => Heal::StillBroken(error),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Journal) -> Result<T, rayop_journal::Error> + Send + 'static,
    ) -> Result<Option<T>, JournalError> {
        let Some(journal) = self.journal() else {
            if self.broken.load(Ordering::Relaxed) {
                self.damage.fetch_add(1, Ordering::Relaxed);
                return Err(JournalError::Unavailable);
            }
            return Ok(None);
        };
        let result = tokio::task::spawn_blocking(move || f(journal))
            .await
            .map_err(|e| JournalError::Task(e.to_string()))
            .and_then(|r| r.map_err(JournalError::from));
        if let Err(error) = &result {
            self.damage.fetch_add(1, Ordering::Relaxed);
            if error.is_storage_failure() {
                self.broken.store(true, Ordering::Relaxed);
            }
        }
        result.map(Some)
    }

    /// Appends `records` for stream `uid` filed under `key`, durably, and
    /// snapshots `machine` when a snapshot is due.
    ///
    /// # Errors
    /// The journal's error; the caller reports it and carries on.
    pub async fn append<M: Machine>(
        &self,
        uid: &str,
        key: &str,
        at: Millis,
        records: Vec<Record<M>>,
        machine: &M,
    ) -> Result<(), JournalError> {
        let (uid, key) = (uid.to_owned(), key.to_owned());
        let snapshot = MachineSnapshot(machine.clone());
        self.blocking(move |journal| {
            let entries: Vec<(Timestamp, Record<M>)> =
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
    pub async fn restore<M: Machine>(&self, uid: &str) -> Result<M, JournalError> {
        let uid = uid.to_owned();
        let restored = self
            .blocking(
                move |journal| match journal.restore::<MachineSnapshot<M>, Record<M>>(&uid) {
                    Ok(r) => Ok(Some(r)),
                    Err(rayop_journal::Error::UnknownStream { .. }) => Ok(None),
                    Err(e) => Err(e),
                },
            )
            .await?
            .flatten();
        let Some(restored) = restored else {
            return Ok(M::default());
        };
        let start = restored.snapshot.map_or_else(M::default, |s| s.state.0);
        let records: Vec<Record<M>> = restored.entries.into_iter().map(|e| e.payload).collect();
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

    /// The streams of `kind` (id, index key) not marked deleted whose
    /// object is not among `live` (UIDs): objects that vanished while the
    /// operator was down. Empty without a journal or when it cannot be read
    /// (logged).
    pub async fn vanished(
        &self,
        kind: StreamKind,
        live: &std::collections::HashSet<String>,
    ) -> Vec<(String, String)> {
        let Some(journal) = self.journal() else {
            return Vec::new();
        };
        let Ok(Ok(streams)) = tokio::task::spawn_blocking(move || journal.streams()).await else {
            tracing::warn!("could not list journal streams at start-up");
            return Vec::new();
        };
        streams
            .into_iter()
            .filter(|s| {
                StreamKind::of_key(&s.index_key).0 == kind
                    && s.deleted_at.is_none()
                    && !live.contains(&s.id)
            })
            .map(|s| (s.id, s.index_key))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn vanished_streams_are_those_of_one_kind_not_live_and_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let (handle, _) = JournalHandle::open(dir.path(), Options::default()).unwrap();
        let machine = ClusterMachine::new();
        for (uid, key) in [
            ("c-live", StreamKind::RayCluster.key("ns", "a")),
            ("c-gone", StreamKind::RayCluster.key("ns", "b")),
            ("c-marked", StreamKind::RayCluster.key("ns", "c")),
            ("j-gone", StreamKind::RayJob.key("ns", "j")),
        ] {
            let records = vec![Record::Commands(Vec::new())];
            handle
                .append(uid, &key, Millis(1), records, &machine)
                .await
                .unwrap();
        }
        handle.mark_deleted("c-marked", Millis(2)).await.unwrap();
        let live = std::collections::HashSet::from(["c-live".to_owned()]);
        assert_eq!(
            handle.vanished(StreamKind::RayCluster, &live).await,
            [("c-gone".to_owned(), "ns/b".to_owned())]
        );
        assert_eq!(
            handle.vanished(StreamKind::RayJob, &live).await,
            [("j-gone".to_owned(), "RayJob:ns/j".to_owned())]
        );
    }

    #[test]
    fn stream_keys_tell_their_kind_and_clusters_keep_their_old_keys() {
        assert_eq!(StreamKind::RayCluster.key("ns", "c"), "ns/c");
        assert_eq!(StreamKind::of_key("ns/c"), (StreamKind::RayCluster, "ns/c"));
        let job = StreamKind::RayJob.key("ns", "j");
        assert_eq!(StreamKind::of_key(&job), (StreamKind::RayJob, "ns/j"));
        let cron = StreamKind::RayCronJob.key("ns", "c");
        assert_eq!(cron, "RayCronJob:ns/c");
        assert_eq!(StreamKind::of_key(&cron), (StreamKind::RayCronJob, "ns/c"));
        // A namespace may not hold a colon, so a cluster key never looks prefixed.
        assert_eq!(
            StreamKind::of_key("ns/RayJob"),
            (StreamKind::RayCluster, "ns/RayJob")
        );
        assert_eq!(
            [StreamKind::RayCluster.as_str(), StreamKind::RayJob.as_str()],
            ["RayCluster", "RayJob"]
        );
    }

    #[tokio::test]
    async fn an_unavailable_journal_fails_operations_until_healed() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("journal");
        // A file where the directory should be: every open fails.
        std::fs::write(&dir, b"not a directory").unwrap();
        let handle = JournalHandle::unavailable(&dir, Options::default());
        assert!(!handle.is_healthy());
        let machine = ClusterMachine::new();
        let failed = handle
            .append("uid", "ns/a", Millis(1), Vec::new(), &machine)
            .await;
        assert!(
            matches!(failed, Err(JournalError::Unavailable)),
            "{failed:?}"
        );
        assert!(matches!(handle.heal(), Heal::StillBroken(_)));
        assert!(!handle.is_healthy());

        std::fs::remove_file(&dir).unwrap();
        assert!(matches!(handle.heal(), Heal::Reopened(r) if r.is_clean()));
        assert!(handle.is_healthy());
        assert!(matches!(handle.heal(), Heal::Healthy));
        let records = vec![Record::Commands(Vec::new())];
        handle
            .append("uid", "ns/a", Millis(2), records, &machine)
            .await
            .unwrap();
        let journal = handle.journal().unwrap();
        assert_eq!(journal.stream_info("uid").unwrap().count, 1);
        assert_eq!(
            handle.damage_count(),
            2,
            "the failed open and the failed append"
        );
    }

    #[test]
    fn a_disabled_journal_is_healthy_and_never_reopens() {
        let handle = JournalHandle::disabled();
        assert!(handle.is_healthy());
        assert!(matches!(handle.heal(), Heal::Healthy));
        assert!(handle.journal().is_none());
    }
}
