//! Who holds a journal directory: the record written into its owner file.
//!
//! This is plain data shared by `lock` (which writes and reads it) and
//! `error` (whose [`crate::Error::Locked`] names the holder); it imports
//! nothing from the crate, so both can depend on it.
//!
//! Invariant: an `Owner` is informational only. Exclusion is the `flock` in
//! `lock`; nothing is decided from the recorded pid or host.

use serde::{Deserialize, Serialize};

/// Who holds a journal directory, as written in its owner file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Process id of the holder on `hostname` (in its PID namespace).
    pub pid: u32,
    /// Host name of the machine the holder runs on.
    pub hostname: String,
    /// When the holder opened the journal, ms since the Unix epoch (wall
    /// clock; informational only).
    pub started_at_ms: i64,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on host {} (opened at {} ms since the epoch)",
            self.pid, self.hostname, self.started_at_ms
        )
    }
}

impl Owner {
    /// This process, now: its pid, host name and the wall-clock time.
    pub(crate) fn current() -> Self {
        let started_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Owner {
            pid: std::process::id(),
            hostname: hostname(),
            started_at_ms,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}
