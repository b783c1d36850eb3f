//! `larder token create|list|revoke`: API tokens for uploads (and for reads
//! when they need authentication).

use std::io::Write;
use std::process::ExitCode;

use super::{Cli, ConfigFlags};
use crate::app::{App, iso8601};
use crate::auth::Scope;
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a token and print it once, as the last line of stdout (only
    /// its hash is kept).
    Create {
        /// A name to list and revoke it by.
        name: String,
        /// `upload` (upload and read) or `read`.
        #[arg(long, default_value = "upload", value_parser = Scope::parse)]
        scope: Scope,
        #[command(flatten)]
        flags: ConfigFlags,
    },
    /// List tokens by name (never the tokens themselves).
    List {
        #[command(flatten)]
        flags: ConfigFlags,
    },
    /// Revoke a token: requests with it fail from now on.
    Revoke {
        name: String,
        #[command(flatten)]
        flags: ConfigFlags,
    },
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let flags = match &args.command {
        Command::Create { flags, .. } | Command::List { flags } | Command::Revoke { flags, .. } => {
            flags
        }
    };
    let config = cli.load_config(flags)?;
    super::init_logging(config.log_format, "warn");
    super::announce_data_dir(&config, super::DataUse::Write)?;
    let app = App::open(config).await?;
    let mut out = std::io::stdout().lock();
    let write_error = |e| Error::storage("cannot write to stdout", e);
    match &args.command {
        Command::Create { name, scope, .. } => {
            let token = app.create_token(name, *scope).await?;
            eprintln!(
                "created token `{name}` (scope {scope}); it is shown only now. Use it as the \
                 password with user `__token__`."
            );
            writeln!(out, "{token}").map_err(write_error)?;
        }
        Command::List { .. } => {
            for token in app.tokens().await? {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    token.name,
                    token.scope,
                    iso8601(token.created_at)
                )
                .map_err(write_error)?;
            }
        }
        Command::Revoke { name, .. } => {
            app.revoke_token(name).await?;
            eprintln!("revoked token `{name}`");
        }
    }
    Ok(ExitCode::SUCCESS)
}
