//! Detecting a database that silently lost acknowledged writes.
//!
//! sled 0.34 recovers its log up to the first record that fails its checks
//! and treats the rest as a torn tail — the normal outcome of a crash during
//! an unacknowledged write. But the same path turns *damage* (garbage or
//! truncation in the middle of the file) into a successful open of an older
//! state: acknowledged entries would vanish without an error.
//!
//! The journal therefore numbers its group flushes. The leader of each group
//! flush stores the next *commit epoch* in sled before flushing, and only
//! after sled's flush and the fsync succeeded writes that epoch into
//! `db/watermark`, a small file outside sled. On open, a watermark above the
//! epoch sled recovered proves that acknowledged writes were lost.
//!
//! Invariants:
//! - the watermark is never ahead of what sled has durably stored in the
//!   original directory (it is written strictly after the flush), so a crash
//!   at any point never yields a false alarm;
//! - the watermark is written with a plain `pwrite`, without its own fsync:
//!   after a process crash it is exact (the kernel has it); after a power
//!   loss it may lag, which can only hide a loss, never invent one;
//! - it lives inside `db/`, so it moves aside with a damaged database and a
//!   fresh database starts without one.
//!
//! A *copy* of a live directory may catch the watermark ahead of the copied
//! `db` file (the two were read at different moments); open such copies with
//! [`crate::DamagePolicy::Report`] so the mismatch is reported, not acted on.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// File name of the watermark inside the database directory.
pub const WATERMARK_FILE: &str = "watermark";
const MAGIC: &[u8; 4] = b"RJW1";
const LEN: usize = 16;

/// What an existing watermark file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// No watermark yet (new database, or one from before watermarks).
    Absent,
    /// Every commit up to this epoch was acknowledged.
    Epoch(u64),
    /// The file holds bytes that are not a watermark.
    Unreadable,
}

/// The open `db/watermark` file, written with `pwrite` after each successful flush.
#[derive(Debug)]
pub(crate) struct Watermark {
    file: File,
}

impl Watermark {
    /// Opens (creating) the watermark in `db_dir` and returns what it
    /// records.
    pub(crate) fn open(db_dir: &Path) -> std::io::Result<(Self, Recorded)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(db_dir.join(WATERMARK_FILE))?;
        let mut buf = [0_u8; LEN];
        let recorded = if file.metadata()?.len() == 0 {
            Recorded::Absent
        } else {
            match file
                .read_exact_at(&mut buf, 0)
                .ok()
                .and_then(|()| decode(&buf))
            {
                Some(epoch) => Recorded::Epoch(epoch),
                None => Recorded::Unreadable,
            }
        };
        Ok((Watermark { file }, recorded))
    }

    /// Records that every commit up to `epoch` is durable in sled.
    pub(crate) fn record(&self, epoch: u64) -> std::io::Result<()> {
        self.file.write_all_at(&encode(epoch), 0)
    }
}

fn encode(epoch: u64) -> [u8; LEN] {
    let mut buf = [0_u8; LEN];
    buf[..4].copy_from_slice(MAGIC);
    buf[4..12].copy_from_slice(&epoch.to_be_bytes());
    let crc = crc32fast::hash(&buf[..12]);
    buf[12..].copy_from_slice(&crc.to_be_bytes());
    buf
}

fn decode(buf: &[u8; LEN]) -> Option<u64> {
    if &buf[..4] != MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes([buf[12], buf[13], buf[14], buf[15]]);
    if crc32fast::hash(&buf[..12]) != crc {
        return None;
    }
    let mut epoch = [0_u8; 8];
    epoch.copy_from_slice(&buf[4..12]);
    Some(u64::from_be_bytes(epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (w, first) = Watermark::open(dir.path()).unwrap();
        assert_eq!(first, Recorded::Absent);
        w.record(41).unwrap();
        w.record(42).unwrap();
        drop(w);
        assert_eq!(Watermark::open(dir.path()).unwrap().1, Recorded::Epoch(42));
        let mut bytes = std::fs::read(dir.path().join(WATERMARK_FILE)).unwrap();
        bytes[6] ^= 1;
        std::fs::write(dir.path().join(WATERMARK_FILE), bytes).unwrap();
        assert_eq!(Watermark::open(dir.path()).unwrap().1, Recorded::Unreadable);
    }
}
