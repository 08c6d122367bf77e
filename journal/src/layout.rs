//! The directory layout of a journal, and measuring it.
//!
//! ```text
//! <dir>/owner              lock + who holds it (see `lock`)
//! <dir>/db/                the sled database (trees: see `trees`)
//! <dir>/db/watermark       last acknowledged commit epoch (see `watermark`)
//! <dir>/db.damaged-<ms>/   a damaged database moved aside (see `damage`)
//! <dir>/compacting/, <dir>/db.pre-compact/
//!                          only during `Journal::compact` (see `recovery`)
//! ```
//!
//! Invariant: everything the journal stores lives under `<dir>/db/`, so
//! moving that one directory (aside, or in from a compaction) moves the
//! whole database, watermark included.

use std::path::Path;

use crate::error::{Error, Result};

/// Name of the sled database directory inside a journal directory.
pub const DB_DIR: &str = "db";

/// Total size in bytes of the regular files under `path` (recursively), as
/// the file system reports their length.
pub fn disk_usage(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    if !meta.is_dir() {
        return Ok(0);
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += disk_usage(&entry?.path())?;
    }
    Ok(total)
}

/// Bytes used by the database files of the journal in `dir`.
pub(crate) fn db_usage(dir: &Path) -> Result<u64> {
    let db = dir.join(DB_DIR);
    disk_usage(&db).map_err(|e| Error::io(format!("measure {}", db.display()), e))
}
