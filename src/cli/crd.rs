//! `rayop crd`: prints one of rayop's CRDs.
//!
//! Role: the one way the committed files under `deploy/crd/` are made:
//! `cargo run -- crd > deploy/crd/rayclusters.ray.io.yaml`,
//! `cargo run -- crd --kind rayjob > deploy/crd/rayjobs.ray.io.yaml`,
//! `cargo run -- crd --kind raycronjob > deploy/crd/raycronjobs.ray.io.yaml` and
//! `cargo run -- crd --kind rayservice > deploy/crd/rayservices.ray.io.yaml`.
//! The output is exactly the kind's `crd_yaml`, so the drift tests can
//! compare against it. The default kind is RayCluster.

use std::io::Write;

use clap::{Args, ValueEnum};
use thiserror::Error;

use crate::crd::versions::CrdError;

/// The kinds `rayop crd` can print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CrdKind {
    /// `rayclusters.ray.io`.
    #[default]
    Raycluster,
    /// `rayjobs.ray.io`.
    Rayjob,
    /// `raycronjobs.ray.io`.
    Raycronjob,
    /// `rayservices.ray.io`.
    Rayservice,
}

impl CrdKind {
    /// The CRD of this kind as YAML.
    ///
    /// # Errors
    /// [`CrdError`] when the CRD cannot be built or serialized.
    pub fn yaml(self) -> Result<String, CrdError> {
        match self {
            Self::Raycluster => crate::crd::crd_yaml(),
            Self::Rayjob => crate::crd::rayjob::crd_yaml(),
            Self::Raycronjob => crate::crd::raycronjob::crd_yaml(),
            Self::Rayservice => crate::crd::rayservice::crd_yaml(),
        }
    }

    /// The committed file of this kind's CRD, relative to the repository.
    #[must_use]
    pub fn committed_file(self) -> &'static str {
        match self {
            Self::Raycluster => "deploy/crd/rayclusters.ray.io.yaml",
            Self::Rayjob => "deploy/crd/rayjobs.ray.io.yaml",
            Self::Raycronjob => "deploy/crd/raycronjobs.ray.io.yaml",
            Self::Rayservice => "deploy/crd/rayservices.ray.io.yaml",
        }
    }
}

/// Arguments of `rayop crd`.
#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Which CRD to print.
    #[arg(long, value_enum, default_value_t = CrdKind::Raycluster)]
    pub kind: CrdKind,
}

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

/// Writes the chosen CRD's YAML to `out`.
///
/// # Errors
/// [`CrdCommandError`] when the CRD cannot be built or written.
pub fn run(args: &CrdArgs, out: &mut dyn Write) -> Result<(), CrdCommandError> {
    out.write_all(args.kind.yaml()?.as_bytes())?;
    Ok(())
}
