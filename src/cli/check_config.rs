use std::io::Write;
use std::process::ExitCode;

use super::{Cli, ConfigFlags};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    flags: ConfigFlags,
}

pub(super) fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let config = cli.load_config(&args.flags)?;
    let mut out = std::io::stdout().lock();
    out.write_all(config.to_redacted_toml().as_bytes())
        .map_err(|e| Error::storage("cannot write to stdout", e))?;
    Ok(ExitCode::SUCCESS)
}
