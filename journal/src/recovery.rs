//! The directories of an offline compaction, and finishing or undoing one
//! that a crash interrupted.
//!
//! A compaction (see `compaction`) writes a complete copy into
//! `<dir>/compacting/`, marks it with `compacting/complete`, renames
//! `db -> db.pre-compact` and `compacting/db -> db`, then removes the
//! leftovers. [`recover`] runs at every open, with the lock held, and puts
//! the directory back into the single-database state.
//!
//! Invariant: at every instant either `db` or (`db.pre-compact` and a
//! complete `compacting/db`) holds the whole journal, so recovery never loses
//! data: it swaps in the copy only if the copy was marked complete, and
//! otherwise restores the original.

use std::path::Path;

use crate::durability::sync_dir;
use crate::error::{Error, Result};
use crate::layout::DB_DIR;

/// The work directory a compaction builds its copy in.
pub(crate) const WORK_DIR: &str = "compacting";
/// Where the original database waits while the copy is swapped in.
pub(crate) const PRE_COMPACT: &str = "db.pre-compact";
/// Marker file in the work directory: the copy is complete and durable.
pub(crate) const COMPLETE: &str = "complete";

/// Removes the set-aside original and the work directory, if present.
pub(crate) fn cleanup(dir: &Path) -> Result<()> {
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
