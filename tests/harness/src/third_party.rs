//! Third-party CRDs (cert-manager, batch schedulers) for tests that need them.
//!
//! The single source of truth is `deploy/local/third-party-crds.sh` with its
//! pinned list `deploy/local/third-party.env`: it takes the CRD YAML from the
//! project's own Go module, cached per version. Install the returned directory
//! with [`TestEnv::apply_crd`](crate::TestEnv::apply_crd).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::binaries::repo_root;

/// The directory holding the CRDs of the third-party project `name` (an entry
/// of `deploy/local/third-party.env`), fetched on first use.
pub fn third_party_crds(name: &str) -> Result<PathBuf> {
    let script = repo_root()?.join("deploy/local/third-party-crds.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(name)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} {name} failed ({}); its error is printed above on stderr",
            script.display(),
            output.status
        );
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !dir.is_dir() {
        bail!(
            "{} {name} reported {}, which is no directory",
            script.display(),
            dir.display()
        );
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_project_is_an_error_naming_it() {
        let err = third_party_crds("no-such-project").unwrap_err().to_string();
        assert!(err.contains("no-such-project"), "{err}");
    }
}
