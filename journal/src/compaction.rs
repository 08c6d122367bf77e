//! Offline compaction: rewrite a journal into a fresh sled database.
//!
//! sled 0.34 is log-structured: removed and overwritten records stay in its
//! segments as garbage until a segment falls to half live, freed segments
//! are reused but the file only shrinks from its end. Under steady churn the
//! database therefore holds several times its live data (see the README).
//! Rewriting the retained data into a fresh database — export, import with
//! consecutive entries grouped into large records — removes all of it.
//!
//! [`Journal::compact`] does that while holding the directory's lock:
//!
//! ```text
//! 1. export db/ into compacting/ (a complete journal directory), durably,
//!    then write compacting/complete and fsync;
//! 2. rename db -> db.pre-compact, rename compacting/db -> db, fsync dir;
//! 3. remove db.pre-compact and compacting/.
//! ```
//!
//! Invariant: at every instant either `db` or (`db.pre-compact` and a
//! complete `compacting/db`) holds the whole journal, and [`recover`] — run
//! by every open — finishes or undoes an interrupted compaction
//! accordingly, so a crash never loses data.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::durability::sync_dir;
use crate::error::{Error, Result};
use crate::export::TransferSummary;
use crate::journal::{DB_DIR, Journal};
use crate::retention::disk_usage;
use crate::{Options, lock};

const WORK_DIR: &str = "compacting";
const PRE_COMPACT: &str = "db.pre-compact";
const COMPLETE: &str = "complete";
const EXPORT_FILE: &str = "export.jsonl";

/// What [`Journal::compact`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompactReport {
    /// Database bytes before.
    pub bytes_before: u64,
    /// Database bytes after.
    pub bytes_after: u64,
    /// What was carried over.
    pub carried: TransferSummary,
}

impl Journal {
    /// Rewrites the (closed) journal in `dir` into a fresh database without
    /// sled's garbage; see the module docs. Takes the directory's lock for
    /// the whole operation (fails with [`Error::Locked`] if it is open), so
    /// run it before opening the journal, for example at start-up when
    /// [`Journal::disk_usage`] has grown well past the export size.
    pub fn compact(dir: impl AsRef<Path>, options: Options) -> Result<CompactReport> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let lock = Arc::new(lock::acquire(&dir)?);
        let io = |what: &str, e| Error::io(format!("compact {}: {what}", dir.display()), e);

        let (journal, _report) = Journal::open_locked(dir.clone(), options.clone(), lock.clone())?;
        let bytes_before = journal.disk_usage()?;
        let work = dir.join(WORK_DIR);
        if work.exists() {
            std::fs::remove_dir_all(&work).map_err(|e| io("clear work dir", e))?;
        }
        let (fresh, _) = Journal::open(&work, options)?;
        let export_path = work.join(EXPORT_FILE);
        {
            let file = std::fs::File::create(&export_path).map_err(|e| io("create export", e))?;
            journal.export(std::io::BufWriter::new(file))?;
        }
        let file = std::fs::File::open(&export_path).map_err(|e| io("open export", e))?;
        let carried = fresh.import(std::io::BufReader::new(file))?;
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
}

fn cleanup(dir: &Path) -> Result<()> {
    for name in [PRE_COMPACT, WORK_DIR] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .map_err(|e| Error::io(format!("remove {}", path.display()), e))?;
        }
    }
    Ok(())
}

/// Finishes or undoes a compaction interrupted by a crash (the caller holds
/// the directory's lock). Returns a note when there was something to do.
pub(crate) fn recover(dir: &Path) -> Result<Option<String>> {
    let db = dir.join(DB_DIR);
    let pre = dir.join(PRE_COMPACT);
    let work = dir.join(WORK_DIR);
    if !pre.exists() && !work.exists() {
        return Ok(None);
    }
    let io = |what: &str, e| {
        Error::io(
            format!("recover compaction in {}: {what}", dir.display()),
            e,
        )
    };
    let note = if !db.exists() && pre.exists() {
        if work.join(COMPLETE).exists() && work.join(DB_DIR).exists() {
            std::fs::rename(work.join(DB_DIR), &db).map_err(|e| io("swap in", e))?;
            "finished a compaction interrupted after its copy was complete"
        } else {
            std::fs::rename(&pre, &db).map_err(|e| io("restore", e))?;
            "undid a compaction interrupted before its copy was complete"
        }
    } else {
        "removed the leftovers of an interrupted compaction"
    };
    sync_dir(dir).map_err(|e| io("sync", e))?;
    cleanup(dir)?;
    Ok(Some(note.to_string()))
}
