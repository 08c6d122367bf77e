//! The `rayop` binary: parses the command line and runs it (see [`rayop::cli`]).

use std::process::ExitCode;

use clap::Parser;
use rayop::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rayop: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
