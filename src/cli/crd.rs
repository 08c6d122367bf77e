//! `rayop crd`: prints the RayCluster CRD.
//!
//! Role: the one way the committed `deploy/crd/rayclusters.ray.io.yaml` is made:
//! `cargo run -- crd > deploy/crd/rayclusters.ray.io.yaml`. The output is
//! exactly [`crate::crd::crd_yaml`], so the drift test can compare against it.

use std::io::Write;

use clap::Args;
use thiserror::Error;

use crate::crd::versions::CrdError;

/// Arguments of `rayop crd` (none yet).
#[derive(Debug, Args)]
pub struct CrdArgs {}

/// Why `rayop crd` failed; the process exits 1.
#[derive(Debug, Error)]
pub enum CrdCommandError {
    /// The CRD could not be built.
    #[error(transparent)]
    Crd(#[from] CrdError),
    /// Writing the YAML to stdout failed (for example a closed pipe).
    #[error("writing the CRD: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes the CRD YAML to `out`.
///
/// # Errors
/// [`CrdCommandError`] when the CRD cannot be built or written.
pub fn run(_args: &CrdArgs, out: &mut dyn Write) -> Result<(), CrdCommandError> {
    out.write_all(crate::crd::crd_yaml()?.as_bytes())?;
    Ok(())
}
