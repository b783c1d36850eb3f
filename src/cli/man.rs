//! `larder man [--dir DIR]`: larder(1) on stdout, or a page per command in DIR.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_mangen::Man;

use super::{Cli, version};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write larder.1 and one larder-COMMAND.1 per (sub)command into DIR
    /// (created if missing) and print their paths, instead of printing larder(1).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub(super) fn run(args: &Args) -> Result<ExitCode> {
    // Built so that subcommands carry their full names (`larder-token-create`);
    // no `help` pseudo-command, it has nothing to document.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    match &args.dir {
        None => {
            let page = render(&command)?;
            std::io::stdout()
                .lock()
                .write_all(&page)
                .map_err(|e| Error::storage("cannot write to stdout", e))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::storage(format!("cannot create `{}`", dir.display()), e))?;
            let mut out = std::io::stdout().lock();
            for path in write_pages(&command, dir)? {
                writeln!(out, "{}", path.display())
                    .map_err(|e| Error::storage("cannot write to stdout", e))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the page of `command` and, recursively, of its visible subcommands.
fn write_pages(command: &clap::Command, dir: &Path) -> Result<Vec<PathBuf>> {
    let path = dir.join(page(command).get_filename());
    let body = render(command)?;
    std::fs::write(&path, body)
        .map_err(|e| Error::storage(format!("cannot write `{}`", path.display()), e))?;
    let mut written = vec![path];
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        written.extend(write_pages(sub, dir)?);
    }
    Ok(written)
}

fn page(command: &clap::Command) -> Man {
    Man::new(command.clone())
        .date(version::BUILD_DATE)
        .manual("Larder Manual")
}

fn render(command: &clap::Command) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    page(command)
        .render(&mut body)
        .map_err(|e| Error::storage("cannot render the man page", e))?;
    Ok(body)
}
