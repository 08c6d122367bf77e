//! Where the control-plane binaries are, and building them when they are missing.
//!
//! The single source of truth is `deploy/local/build.sh`: it owns the pinned
//! versions (`deploy/local/versions.env`) and the cache layout. The harness
//! always runs it and reads the `KEY=dir` lines it prints on stdout. When every
//! binary is cached the script invokes no `go` and returns in milliseconds;
//! when something is missing it builds it, with its progress on the inherited
//! stderr, so a fresh machine needs no set-up step before `cargo test`.
//!
//! Invariant: a [`Binaries`] value only exists when every file it names is
//! present and executable.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The repository root (the checkout holding `deploy/local/build.sh`).
///
/// Found at run time, not only from where the crate was compiled: several
/// checkouts may share one target directory, so the compile-time path can
/// name another (possibly deleted) checkout. Order: `RAYOP_REPO_ROOT`, then
/// the nearest ancestor of the working directory (cargo runs tests in their
/// package's directory), then the checkout this crate was compiled from.
pub fn repo_root() -> Result<PathBuf> {
    let has_script = |dir: &Path| dir.join("deploy/local/build.sh").is_file();
    if let Some(dir) = std::env::var_os("RAYOP_REPO_ROOT") {
        let dir = PathBuf::from(dir);
        if !has_script(&dir) {
            bail!(
                "RAYOP_REPO_ROOT={} has no deploy/local/build.sh",
                dir.display()
            );
        }
        return Ok(dir);
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Some(dir) = cwd.ancestors().find(|d| has_script(d))
    {
        return Ok(dir.to_path_buf());
    }
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if has_script(&compiled) {
        return Ok(compiled);
    }
    bail!("cannot find the rayop checkout (deploy/local/build.sh); set RAYOP_REPO_ROOT")
}

/// Paths of the built control-plane binaries and kwok's stage file.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `etcd` server, built by `deploy/local/build.sh`.
    pub etcd: PathBuf,
    /// `kube-apiserver`, built by `deploy/local/build.sh`.
    pub kube_apiserver: PathBuf,
    /// `kube-controller-manager`, built by `deploy/local/build.sh`.
    pub kube_controller_manager: PathBuf,
    /// `kube-scheduler`, built by `deploy/local/build.sh`.
    pub kube_scheduler: PathBuf,
    /// `kubectl`, the same version as the API server.
    pub kubectl: PathBuf,
    /// `kwok`, which plays the nodes and the kubelets.
    pub kwok: PathBuf,
    /// The Stage objects (YAML) kwok is started with.
    pub kwok_stages: PathBuf,
}

impl Binaries {
    /// Runs `deploy/local/build.sh` (building whatever is not cached yet) and
    /// returns the paths it reports.
    pub fn ensure_built() -> Result<Binaries> {
        let script = repo_root()?.join("deploy/local/build.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        if !output.status.success() {
            bail!(
                "{} failed ({}); its error is printed above on stderr",
                script.display(),
                output.status
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        Self::from_build_output(&stdout)
    }

    /// Reads the `KEY=dir` lines printed by `build.sh`.
    fn from_build_output(stdout: &str) -> Result<Binaries> {
        let get = |key: &str| -> Result<PathBuf> {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(PathBuf::from)
                .with_context(|| format!("build.sh printed no {key}= line"))
        };
        let k8s = get("KUBERNETES_BIN_DIR")?;
        let bins = Binaries {
            etcd: get("ETCD_BIN_DIR")?.join("etcd"),
            kube_apiserver: k8s.join("kube-apiserver"),
            kube_controller_manager: k8s.join("kube-controller-manager"),
            kube_scheduler: k8s.join("kube-scheduler"),
            kubectl: k8s.join("kubectl"),
            kwok: get("KWOK_BIN_DIR")?.join("kwok"),
            kwok_stages: get("KWOK_STAGES")?,
        };
        for path in bins.all() {
            if !path.is_file() {
                bail!("build.sh reported {} but it does not exist", path.display());
            }
        }
        Ok(bins)
    }

    fn all(&self) -> [&Path; 7] {
        [
            &self.etcd,
            &self.kube_apiserver,
            &self.kube_controller_manager,
            &self.kube_scheduler,
            &self.kubectl,
            &self.kwok,
            &self.kwok_stages,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_build_output_and_rejects_missing_files() {
        let out = "KUBERNETES_BIN_DIR=/nonexistent/k\nETCD_BIN_DIR=/nonexistent/e\nKWOK_BIN_DIR=/nonexistent/w\nKWOK_STAGES=/nonexistent/w/stages.yaml\n";
        let err = Binaries::from_build_output(out).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/e/etcd"), "{err}");
        let err = Binaries::from_build_output("ETCD_BIN_DIR=/x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("KUBERNETES_BIN_DIR"), "{err}");
    }
}
