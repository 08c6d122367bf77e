//! Opening a journal directory into a [`Store`]: take the lock, finish an
//! interrupted compaction, load the database — moving a damaged one aside
//! when the policy allows — and report what was found.
//!
//! Invariants:
//! - the directory lock is held before anything under the directory is
//!   read or changed, and lives as long as the returned store;
//! - a damaged database is renamed, never deleted, and only under
//!   [`DamagePolicy::MoveAside`]; environmental failures move nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::commit::Commit;
use crate::damage::{self, DamagePolicy, MovedAside, OpenFailure, OpenReport};
use crate::durability::{Durability, FileSync};
use crate::error::{Error, Result};
use crate::layout::DB_DIR;
use crate::load::{Loaded, load};
use crate::lock::{self, DirLock};
use crate::options::Options;
use crate::recovery;
use crate::store::{Store, lock_state};

/// Opens (creating if needed) the journal in `dir`, taking its lock.
pub(crate) fn open(dir: &Path, options: Options) -> Result<(Store, OpenReport)> {
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let lock = Arc::new(lock::acquire(&dir)?);
    open_locked(dir, options, lock)
}

/// Opens the journal in `dir`, whose lock the caller holds.
pub(crate) fn open_locked(
    dir: PathBuf,
    options: Options,
    lock: Arc<DirLock>,
) -> Result<(Store, OpenReport)> {
    let mut report = OpenReport::default();
    if let Some(note) = recovery::recover(&dir)? {
        report.warnings.push(note);
    }
    let db_dir = dir.join(DB_DIR);
    let loaded = load_or_move_aside(&db_dir, &options, &mut report)?;
    let file_sync = match options.durability {
        Durability::Fsync => Some(
            FileSync::open(&db_dir)
                .map_err(|e| Error::io(format!("fsync {}", db_dir.display()), e))?,
        ),
        Durability::SledFlush => None,
    };
    report.streams = loaded.registry.len();
    report.damaged_metadata = loaded.damaged_metadata;
    report.lost_writes = loaded.lost_writes;
    report.warnings.extend(loaded.warnings);
    report.quarantined = loaded
        .registry
        .iter()
        .filter(|(_, s)| lock_state(s).meta.quarantine.is_some())
        .map(|(id, _)| id.clone())
        .collect();
    let commit = Commit::new(loaded.epoch, loaded.watermark, file_sync);
    let store = Store::new(loaded.trees, loaded.registry, commit, options, dir, lock);
    Ok((store, report))
}

/// Loads `db_dir`; if it is damaged and the policy allows, moves it aside
/// (noting that in `report`) and loads a fresh one.
fn load_or_move_aside(db_dir: &Path, options: &Options, report: &mut OpenReport) -> Result<Loaded> {
    let reason = match load(db_dir, options) {
        Ok(loaded) => return Ok(loaded),
        Err(OpenFailure::Fatal(e)) => return Err(e),
        Err(OpenFailure::Damaged(reason)) => reason,
    };
    if options.damage_policy == DamagePolicy::Report {
        return Err(Error::DatabaseDamaged {
            dir: db_dir.to_path_buf(),
            reason,
        });
    }
    let to = damage::move_aside(db_dir)?;
    report.moved_aside = Some(MovedAside {
        from: db_dir.to_path_buf(),
        to,
        reason,
    });
    match load(db_dir, options) {
        Ok(loaded) => Ok(loaded),
        Err(OpenFailure::Fatal(e)) => Err(e),
        Err(OpenFailure::Damaged(reason)) => Err(Error::DatabaseDamaged {
            dir: db_dir.to_path_buf(),
            reason,
        }),
    }
}
