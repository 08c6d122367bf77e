//! What "durable" means here, and the fsync the journal adds to sled's flush.
//!
//! sled 0.34.7's `Tree::flush` writes its in-memory I/O buffers to the `db`
//! file with `pwrite` and then, on Linux, calls `sync_file_range` with
//! `WAIT_BEFORE | WRITE | WAIT_AFTER` on the written range (it falls back to
//! `fsync` only where that call does not exist). `sync_file_range` pushes
//! the data pages to the device but, as its manual page says, it neither
//! flushes the device's volatile write cache nor commits file metadata (such
//! as the file growing into a new segment). sled issue #1452 ("Data is not
//! written durably") and the discussion in #1351 / PR #928 report exactly
//! this. sled also writes large log records (over a quarter of a segment, i.e.
//! about 128 KiB with the default 512 KiB segments) to
//! separate files under `blobs/` with plain writes and no fsync at all; its
//! background thread calls `fsync` on `db` only every `flush_every_ms`.
//!
//! So with sled's flush alone an acknowledged write survives a *process*
//! crash (the data is in the kernel) but not necessarily a power loss or a
//! kernel crash. For the promise "acknowledged = durable" the journal, after
//! each group flush, also calls `fsync` (`File::sync_all`) on the `db` file
//! and on any new blob file plus the `blobs/` directory. `fsync` on ext4/xfs
//! commits metadata and issues a cache flush to the device. This is
//! [`Durability::Fsync`], the default; [`Durability::SledFlush`] skips the
//! extra fsync and exists to measure its cost (see the README).
//!
//! Invariant: [`FileSync::sync`] returns `Ok` only after the `db` file and
//! every blob file present (and, if one was new, the `blobs/` directory)
//! were `fsync`ed; a blob is synced once, when first seen.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// How far `append` goes before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// sled flush, then `fsync` of the db file and new blob files: survives
    /// power loss on hardware that honours cache flushes. The default.
    #[default]
    Fsync,
    /// sled flush only (`sync_file_range` on Linux): survives a process crash,
    /// not necessarily a power loss. For measurement and tests.
    SledFlush,
}

/// Calls `fsync` on sled's files after a flush.
#[derive(Debug)]
pub(crate) struct FileSync {
    db_file: File,
    blobs_dir: PathBuf,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
}

impl FileSync {
    /// Opens handles on sled's files in `db_dir` (after sled opened it) and
    /// syncs the directories so the files themselves are durably linked.
    pub(crate) fn open(db_dir: &Path) -> std::io::Result<Self> {
        let db_file = File::open(db_dir.join("db"))?;
        let this = FileSync {
            db_file,
            blobs_dir: db_dir.join("blobs"),
            synced_blobs: Mutex::new(HashSet::new()),
        };
        sync_dir(db_dir)?;
        if let Some(parent) = db_dir.parent() {
            sync_dir(parent)?;
        }
        this.sync()?;
        Ok(this)
    }

    /// `fsync`s the db file, then any blob file not synced before (and the
    /// blobs directory if there was one).
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        self.db_file.sync_all()?;
        let Ok(entries) = std::fs::read_dir(&self.blobs_dir) else {
            return Ok(());
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut present = HashSet::new();
        let mut new_blob = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                // A blob may be removed by sled between listing and opening.
                if let Ok(f) = File::open(entry.path()) {
                    f.sync_all()?;
                    new_blob = true;
                }
            }
            present.insert(name);
        }
        if new_blob {
            sync_dir(&self.blobs_dir)?;
        }
        *synced = present;
        Ok(())
    }
}

/// `fsync`s a directory so that entries created or renamed in it persist.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
