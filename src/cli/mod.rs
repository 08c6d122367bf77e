//! The `rayop` command line.
//!
//! Role: parse arguments with clap and dispatch to one module per subcommand
//! (`crd` here; `run`, `journal` and others add a module, a [`Command`]
//! variant and a match arm). Subcommands write to the given writer, not to
//! stdout directly, so tests can capture their output.

use std::io::Write;

use clap::{Parser, Subcommand};
use thiserror::Error;

pub mod crd;
pub mod journal;
pub mod run;

/// rayop: a Kubernetes operator for Ray clusters.
#[derive(Debug, Parser)]
#[command(name = "rayop", version, about)]
pub struct Cli {
    /// The subcommand to run; there is no default.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each has its own module under `cli/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the RayCluster CustomResourceDefinition (both versions) as YAML.
    Crd(crd::CrdArgs),
    /// Run the operator: reconcile RayClusters until SIGTERM.
    Run(run::RunArgs),
    /// Inspect, verify, replay, export and import the operator's journal.
    Journal(journal::JournalArgs),
}

/// Why a subcommand failed; [`CliError::exit_code`] maps it to the process exit code.
#[derive(Debug, Error)]
pub enum CliError {
    /// `rayop crd` failed; exit code 1.
    #[error(transparent)]
    Crd(#[from] crd::CrdCommandError),
    /// `rayop run` failed; exit code 1.
    #[error(transparent)]
    Run(#[from] run::RunError),
    /// `rayop journal` failed; exit code 1 or 2, see [`journal::JournalCommandError::exit_code`].
    #[error(transparent)]
    Journal(#[from] journal::JournalCommandError),
}

impl CliError {
    /// The process exit code: the subcommand's own (`rayop journal`: 1 for a
    /// divergence or failed verification, 2 for usage and I/O errors), 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Journal(e) => e.exit_code(),
            _ => 1,
        }
    }
}

/// Runs the parsed command, writing its output to `out`.
///
/// # Errors
/// The subcommand's error.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    match cli.command {
        Command::Crd(args) => crd::run(&args, out)?,
        Command::Run(args) => run::run(&args, out)?,
        Command::Journal(args) => journal::run(&args, out)?,
    }
    Ok(())
}
