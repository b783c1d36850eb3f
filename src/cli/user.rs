//! `larder user hash`: the argon2 hash of a password, to paste into a
//! `[[user]]` table as `password-hash`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use crate::auth::password;
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Read a password from stdin (one line) and print its argon2 hash.
    Hash,
}

pub(super) fn run(args: &Args) -> Result<ExitCode> {
    let Command::Hash = args.command;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (shown as you type; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::storage("cannot read the password from stdin", e))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(Error::invalid("the password is empty"));
    }
    let hash = password::hash(password.as_bytes())?;
    eprintln!("paste into the config: [[user]] name = \"…\" password-hash = \"<the line below>\"");
    writeln!(std::io::stdout().lock(), "{hash}")
        .map_err(|e| Error::storage("cannot write to stdout", e))?;
    Ok(ExitCode::SUCCESS)
}
