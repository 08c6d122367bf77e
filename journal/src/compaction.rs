//! Offline compaction: rewrite a journal into a fresh sled database.
//!
//! sled 0.34 is log-structured: removed and overwritten records stay in its
//! segments as garbage until a segment falls to half live, freed segments
//! are reused but the file only shrinks from its end. Under steady churn the
//! database therefore holds much more than its live data (figures in the
//! README).
//! Rewriting the retained data into a fresh database — export, import with
//! consecutive entries grouped into large records — removes all of it.
//!
//! [`compact`] does that while holding the directory's lock:
//!
//! ```text
//! 1. export db/ into compacting/ (a complete journal directory), durably,
//!    then write compacting/complete and fsync;
//! 2. rename db -> db.pre-compact, rename compacting/db -> db, fsync dir;
//! 3. remove db.pre-compact and compacting/.
//! ```
//!
//! Invariant: at every instant either `db` or (`db.pre-compact` and a
//! complete `compacting/db`) holds the whole journal; `recovery`, run by
//! every open, finishes or undoes an interrupted compaction accordingly, so
//! a crash never loses data.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::durability::sync_dir;
use crate::error::{Error, Result};
use crate::layout::{DB_DIR, db_usage, disk_usage};
use crate::lock;
use crate::open::{open, open_locked};
use crate::options::Options;
use crate::recovery::{COMPLETE, PRE_COMPACT, WORK_DIR, cleanup};
use crate::transfer::TransferSummary;
use crate::{export, import};

const EXPORT_FILE: &str = "export.jsonl";

/// What [`crate::Journal::compact`] did; the journal's contents are unchanged by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompactReport {
    /// Bytes of the files under `db/` before, as [`crate::disk_usage`] measures.
    pub bytes_before: u64,
    /// Bytes of the files under `db/` after; sled's dead records are gone.
    pub bytes_after: u64,
    /// Streams, entries and snapshots copied into the new database.
    pub carried: TransferSummary,
}

/// Rewrites the (closed) journal in `dir` into a fresh database; see the
/// module docs.
pub(crate) fn compact(dir: &Path, options: Options) -> Result<CompactReport> {
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let lock = Arc::new(lock::acquire(&dir)?);
    let io = |what: &str, e| Error::io(format!("compact {}: {what}", dir.display()), e);

    let (journal, _report) = open_locked(dir.clone(), options.clone(), lock.clone())?;
    let bytes_before = db_usage(journal.dir())?;
    let work = dir.join(WORK_DIR);
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| io("clear work dir", e))?;
    }
    let (fresh, _) = open(&work, options)?;
    let export_path = work.join(EXPORT_FILE);
    {
        let file = std::fs::File::create(&export_path).map_err(|e| io("create export", e))?;
        export::export(&journal, std::io::BufWriter::new(file))?;
    }
    let file = std::fs::File::open(&export_path).map_err(|e| io("open export", e))?;
    let carried = import::import(&fresh, std::io::BufReader::new(file))?;
    drop(fresh);
    drop(journal);
    std::fs::remove_file(&export_path).map_err(|e| io("remove export", e))?;
    let complete = std::fs::File::create(work.join(COMPLETE)).map_err(|e| io("mark", e))?;
    complete.sync_all().map_err(|e| io("sync mark", e))?;
    sync_dir(&work).map_err(|e| io("sync work dir", e))?;

    std::fs::rename(dir.join(DB_DIR), dir.join(PRE_COMPACT)).map_err(|e| io("set aside", e))?;
    std::fs::rename(work.join(DB_DIR), dir.join(DB_DIR)).map_err(|e| io("swap in", e))?;
    sync_dir(&dir).map_err(|e| io("sync dir", e))?;
    cleanup(&dir)?;
    let bytes_after = disk_usage(&dir.join(DB_DIR)).map_err(|e| io("measure", e))?;
    drop(lock);
    Ok(CompactReport {
        bytes_before,
        bytes_after,
        carried,
    })
}
