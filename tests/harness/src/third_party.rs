//! Third-party CRDs (cert-manager, batch schedulers) for tests that need them.
//!
//! The single source of truth is `deploy/local/third-party-crds.sh` with its
//! pinned list `deploy/local/third-party.env`: it takes the CRD YAML from the
//! project's own Go module, cached per version. Install the returned directory
//! with [`TestEnv::apply_crd`](crate::TestEnv::apply_crd).

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::scripts::local_script_path;

/// The directory holding the CRDs of the third-party project `name` (an entry
/// of `deploy/local/third-party.env`), fetched on first use.
pub fn third_party_crds(name: &str) -> Result<PathBuf> {
    let dir = local_script_path("third-party-crds.sh", &[name])?;
    if !dir.is_dir() {
        bail!(
            "deploy/local/third-party-crds.sh {name} reported {}, which is no directory",
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
