//! `larder completions SHELL`: a tab-completion script on stdout.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub(super) fn run(args: &Args) -> Result<ExitCode> {
    // Generated into memory first: clap_complete panics on a write error,
    // and `larder completions bash | head` must not.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "larder", &mut script);
    std::io::stdout()
        .lock()
        .write_all(&script)
        .map_err(|e| Error::storage("cannot write to stdout", e))?;
    Ok(ExitCode::SUCCESS)
}
