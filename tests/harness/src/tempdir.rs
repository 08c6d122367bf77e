//! Per-process working directories under the system temp dir.
//!
//! A shared plane lives in a static that is never dropped, so its directory
//! cannot be removed at exit. Instead each directory is named
//! `<prefix>-<pid>-<n>`, and creating one first removes the directories of
//! processes that no longer run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};

/// A new, empty directory `<tmp>/<prefix>-<pid>-<n>`; stale siblings of dead
/// processes are deleted first.
pub fn fresh(prefix: &str) -> Result<PathBuf> {
    static N: AtomicU32 = AtomicU32::new(0);
    let tmp = std::env::temp_dir();
    remove_stale(&tmp, prefix);
    let dir = tmp.join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn remove_stale(tmp: &std::path::Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&format!("{prefix}-")))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !crate::process::pid_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_dirs_are_distinct_and_stale_ones_go() {
        let prefix = format!("rayop-testenv-tmpdir-test{}", std::process::id());
        // pid 0 never names a live user process: a stale directory.
        let stale = std::env::temp_dir().join(format!("{prefix}-0-0"));
        std::fs::create_dir_all(&stale).unwrap();
        let a = fresh(&prefix).unwrap();
        let b = fresh(&prefix).unwrap();
        assert_ne!(a, b);
        assert!(a.is_dir() && b.is_dir());
        assert!(!stale.exists());
        std::fs::remove_dir_all(a).unwrap();
        std::fs::remove_dir_all(b).unwrap();
    }
}
