//! One process per journal directory, and a clear error naming the holder.
//!
//! sled 0.34 takes an exclusive `flock` on its `db` file and fails with an
//! untyped I/O error when it is taken. The journal takes its own exclusive
//! `flock` first, on `<dir>/owner`, and writes into that file who holds it
//! (pid, hostname, start time: see `owner`). A second opener that fails to
//! take the lock reads the file and returns [`crate::Error::Locked`] naming
//! the holder.
//!
//! Invariants:
//! - the lock lives as long as the [`DirLock`] value (the open file); the
//!   kernel drops it when the holding process dies, even by SIGKILL, so a
//!   stale owner file never blocks anyone;
//! - a *copy* of a journal directory carries no lock (flock is not part of
//!   the file's contents), so copying a live journal and opening the copy is
//!   the supported way to inspect it from another process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use fs2::FileExt;

use crate::error::{Error, Result};
use crate::owner::Owner;

/// Name of the owner/lock file inside the journal directory.
pub const OWNER_FILE: &str = "owner";

/// An exclusive hold on a journal directory; released on drop.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Takes the exclusive lock on `dir` (which must exist) and records this
/// process as the owner.
pub(crate) fn acquire(dir: &Path) -> Result<DirLock> {
    let path = dir.join(OWNER_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    if let Err(e) = file.try_lock_exclusive() {
        if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() {
            return Err(Error::Locked {
                dir: dir.to_path_buf(),
                holder: read_owner(&mut file),
            });
        }
        return Err(Error::io(format!("lock {}", path.display()), e));
    }
    write_owner(&mut file, &Owner::current())
        .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    Ok(DirLock { _file: file })
}

/// Reads the owner recorded in `dir`, if any (for diagnostics).
pub fn read_owner_file(dir: &Path) -> Option<Owner> {
    let mut f = File::open(dir.join(OWNER_FILE)).ok()?;
    read_owner(&mut f)
}

fn read_owner(file: &mut File) -> Option<Owner> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(4096).read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

fn write_owner(file: &mut File, owner: &Owner) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(owner).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_the_same_process_is_refused_with_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path()).unwrap();
        match acquire(dir.path()) {
            Err(Error::Locked {
                holder: Some(owner),
                ..
            }) => {
                assert_eq!(owner.pid, std::process::id());
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        let _again = acquire(dir.path()).unwrap();
        assert!(dir.path().join(OWNER_FILE).exists());
        assert_eq!(read_owner_file(dir.path()).unwrap().pid, std::process::id());
    }
}
