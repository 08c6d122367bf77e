//! Damage handling at open: what counts as a damaged database, moving it
//! aside, and the report handed back to the caller.
//!
//! Policy:
//! - a database that sled cannot open because its contents are bad
//!   (corruption detected, unreadable/truncated files, a panic inside sled
//!   while recovering, or journal metadata that does not decode) is *moved
//!   aside* — renamed to `db.damaged-<ms>` next to it, never deleted — and a
//!   fresh, empty database is started, so the operator keeps running;
//! - an environmental failure (permission denied, disk full, another process
//!   holding the lock, a newer on-disk format) is *not* damage: it is returned
//!   as an error and nothing is moved, because a retry or a newer binary can
//!   succeed with the data intact;
//! - damage found later in one stream (a record that does not decode)
//!   quarantines that stream only; see [`crate::Quarantine`].
//!
//! - a database that sled opens but that recovered to an *older* state than
//!   was acknowledged (see `watermark`) is damage too: it has silently lost
//!   entries, and writing on would overwrite the evidence.
//!
//! [`DamagePolicy::Report`] turns both move-asides into reports (an error
//! for an unopenable database, [`OpenReport::lost_writes`] for lost writes)
//! and touches nothing; use it to inspect copies and evidence.
//!
//! Invariant: every move-aside is reported in [`OpenReport::moved_aside`] so
//! the caller can log it, count it in a metric and tell users.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::durability::sync_dir;
use crate::error::Error;

/// What [`crate::Journal::open`] found and did; after a clean open `moved_aside` and `lost_writes`
/// are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpenReport {
    /// Set if the database was damaged and moved aside.
    pub moved_aside: Option<MovedAside>,
    /// Streams loaded into the registry, quarantined ones included.
    pub streams: usize,
    /// Ids of streams that are quarantined.
    pub quarantined: Vec<String>,
    /// Stream metadata records that could not be decoded (their entries are
    /// unreachable and reported by `verify` as orphans).
    pub damaged_metadata: Vec<String>,
    /// Set under [`DamagePolicy::Report`] when the database recovered to an
    /// older state than was acknowledged.
    pub lost_writes: Option<LostWrites>,
    /// Other findings worth a log line (for example an unreadable watermark).
    pub warnings: Vec<String>,
}

/// Evidence that acknowledged writes were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LostWrites {
    /// The last commit epoch acknowledged, per the watermark.
    pub acknowledged_epoch: u64,
    /// The commit epoch the database recovered to.
    pub recovered_epoch: u64,
}

/// What [`crate::Journal::open`] does with a damaged database.
///
/// Note that sled 0.34 has no read-only mode: merely opening a database
/// lets it write recovery metadata (`snap.*`) and truncate a torn log tail.
/// Neither policy can prevent that; `MoveAside` keeps everything else as it
/// was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DamagePolicy {
    /// Rename it to `db.damaged-<ms>` and start fresh (the operator's
    /// choice: keep running, report, keep the evidence).
    #[default]
    MoveAside,
    /// Move nothing: fail with [`crate::Error::DatabaseDamaged`] if it
    /// cannot be opened, report lost writes in [`OpenReport::lost_writes`]
    /// otherwise (for inspecting copies and moved-aside databases).
    Report,
}

impl OpenReport {
    /// True if nothing needs the user's attention.
    pub fn is_clean(&self) -> bool {
        self.moved_aside.is_none()
            && self.quarantined.is_empty()
            && self.damaged_metadata.is_empty()
    }
}

/// A damaged database that was renamed out of the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedAside {
    /// Where the database was: `<dir>/db`.
    pub from: PathBuf,
    /// Where it is now: `<dir>/db.damaged-<ms>` (`-n` added if taken); never deleted.
    pub to: PathBuf,
    /// Why it could not be opened.
    pub reason: String,
}

/// Why opening the database failed, sorted into damage (move aside) or a fatal error.
#[derive(Debug)]
pub(crate) enum OpenFailure {
    /// The contents are bad: move aside and start fresh.
    Damaged(String),
    /// Environmental or newer-format: report, touch nothing.
    Fatal(Error),
}

/// Sorts a sled error met while opening into damage or a fatal error.
pub(crate) fn classify(context: &str, err: sled::Error) -> OpenFailure {
    use std::io::ErrorKind;
    match &err {
        sled::Error::Io(io) => match io.kind() {
            ErrorKind::UnexpectedEof
            | ErrorKind::InvalidData
            | ErrorKind::IsADirectory
            | ErrorKind::NotADirectory => OpenFailure::Damaged(format!("{context}: {err}")),
            _ => OpenFailure::Fatal(Error::storage(context, err)),
        },
        sled::Error::Corruption { .. }
        | sled::Error::ReportableBug(_)
        | sled::Error::Unsupported(_)
        | sled::Error::CollectionNotFound(_) => OpenFailure::Damaged(format!("{context}: {err}")),
    }
}

/// Renames `db_dir` to a fresh `<name>.damaged-<ms>[-n]` sibling and returns
/// the new path.
pub(crate) fn move_aside(db_dir: &Path) -> Result<PathBuf, Error> {
    let parent = db_dir.parent().unwrap_or(Path::new("."));
    let name = db_dir.file_name().and_then(|n| n.to_str()).unwrap_or("db");
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut n = 0_u32;
    let to = loop {
        let candidate = if n == 0 {
            parent.join(format!("{name}.damaged-{millis}"))
        } else {
            parent.join(format!("{name}.damaged-{millis}-{n}"))
        };
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    std::fs::rename(db_dir, &to)
        .map_err(|e| Error::io(format!("move damaged {} aside", db_dir.display()), e))?;
    sync_dir(parent).map_err(|e| Error::io(format!("sync {}", parent.display()), e))?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_errors_are_not_damage() {
        let denied = sled::Error::Io(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(matches!(classify("open", denied), OpenFailure::Fatal(_)));
        let eof = sled::Error::Io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        assert!(matches!(classify("open", eof), OpenFailure::Damaged(_)));
        let bad = sled::Error::Corruption { at: None, bt: () };
        assert!(matches!(classify("open", bad), OpenFailure::Damaged(_)));
    }

    #[test]
    fn move_aside_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        let first = move_aside(&db).unwrap();
        std::fs::create_dir(&db).unwrap();
        let second = move_aside(&db).unwrap();
        assert_ne!(first, second);
        assert!(first.exists() && second.exists() && !db.exists());
    }
}
