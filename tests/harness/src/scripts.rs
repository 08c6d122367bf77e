//! Runs the `deploy/local/` scripts that build, install or fetch one thing
//! and print its path as their last line on stdout (progress on stderr,
//! inherited so a first, slow run shows what it does).
//!
//! Invariant: a returned path exists.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

use crate::binaries::repo_root;

/// Runs `deploy/local/<script> <args…>` and returns the path it printed last.
pub fn local_script_path(script: &str, args: &[&str]) -> Result<PathBuf> {
    let path = repo_root()?.join("deploy/local").join(script);
    let shown = format!("{} {}", path.display(), args.join(" "));
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}); its error is printed above on stderr",
            out.status
        );
    }
    let printed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| anyhow!("{shown} printed nothing"))?;
    if !printed.exists() {
        bail!(
            "{shown} reported {}, which does not exist",
            printed.display()
        );
    }
    Ok(printed)
}
