//! The command line: one clap `Args` struct and one `run` function per command.
//! Human progress goes to stderr, data (paths, config) to stdout.

mod check_config;
mod completions;
mod download;
mod export;
mod healthcheck;
mod import;
mod man;
mod progress;
mod prune;
mod serve;
mod stats;
mod token;
mod user;
mod verify;
mod version;
mod warm;
mod yank;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::error::{ErrorKind, Result};

#[derive(Debug, Parser)]
#[command(
    name = "larder",
    version = version::SHORT,
    long_version = version::LONG,
    about = "Keeps the packages your builds eat")]
pub struct Cli {
    /// Configuration file (TOML); defaults to `$LARDER_CONFIG` if set.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a URL or file, optionally through a download cache.
    Download(download::Args),
    /// Run the caching index proxy.
    Serve(serve::Args),
    /// Print the effective configuration (secrets redacted), or what is wrong with it.
    CheckConfig(check_config::Args),
    /// Create, list and revoke API tokens.
    Token(token::Args),
    /// Hash a password for a `[[user]]` in the config.
    User(user::Args),
    /// Yank an uploaded file (PEP 592): installers skip it unless pinned.
    Yank(yank::YankArgs),
    /// Undo `larder yank`.
    Unyank(yank::Target),
    /// Delete an uploaded file from the index and free its bytes.
    Delete(yank::Target),
    /// Write stored files as a tree (or .tar.zst) that installs with no network.
    Export(export::Args),
    /// Store the distributions of a directory or export archive as cached files.
    Import(import::Args),
    /// Remove least recently used cached files (never uploads).
    Prune(prune::Args),
    /// Rehash every blob and reconcile the catalog with the store.
    Verify(verify::Args),
    /// What the store holds, by source and origin, and all-time traffic.
    Stats(stats::Args),
    /// Fetch what requirements or lock files need into the cache ahead of time.
    Warm(warm::Args),
    /// Print a tab-completion script for a shell.
    Completions(completions::Args),
    /// Print the larder(1) man page, or write a page per command into a directory.
    Man(man::Args),
    /// Exit 0 if a GET of a URL answers 2xx, 1 otherwise (container health checks).
    Healthcheck(healthcheck::Args),
}

/// Flags that override configuration values, shared by the commands that run larder.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigFlags {
    /// Data directory (blobs, catalog).
    #[arg(long = "cache-dir", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// An index's simple URL; repeat for several upstreams in priority order.
    #[arg(long = "upstream", value_name = "URL")]
    pub upstreams: Vec<url::Url>,
    /// Never contact an upstream.
    #[arg(long)]
    pub offline: bool,
    /// A base URL of a generic mirror answering every other path; repeat
    /// for fallback sources in order (e.g. for `GENTOO_MIRRORS`).
    #[arg(long = "source", value_name = "URL")]
    pub sources: Vec<url::Url>,
}

impl ConfigFlags {
    fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            offline: self.offline.then_some(true),
            upstreams: self.upstreams.clone(),
            sources: self.sources.clone(),
        }
    }
}

impl Cli {
    pub fn load_config(&self, flags: &ConfigFlags) -> Result<Config> {
        Config::load(self.config.as_deref(), &flags.overrides())
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Download(args) => download::run(&cli, args).await,
        Command::CheckConfig(args) => check_config::run(&cli, args),
        Command::Serve(args) => serve::run(&cli, args).await,
        Command::Token(args) => token::run(&cli, args).await,
        Command::User(args) => user::run(args),
        Command::Yank(args) => yank::yank(&cli, args).await,
        Command::Unyank(args) => yank::unyank(&cli, args).await,
        Command::Delete(args) => yank::delete(&cli, args).await,
        Command::Export(args) => export::run(&cli, args).await,
        Command::Import(args) => import::run(&cli, args).await,
        Command::Prune(args) => prune::run(&cli, args).await,
        Command::Verify(args) => verify::run(&cli, args).await,
        Command::Stats(args) => stats::run(&cli, args).await,
        Command::Warm(args) => warm::run(&cli, args).await,
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Healthcheck(args) => healthcheck::run(args).await,
    }
}

/// Sends logs to stderr. `LARDER_LOG` (or `RUST_LOG`) sets the filter,
/// `default` applies otherwise; JSON lines when the config asks for them.
pub(crate) fn init_logging(format: crate::config::LogFormat, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("LARDER_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_owned());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second initialisation (tests, repeated calls) keeps the first.
    let _ = match format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}

/// The process exit code for a failure of this kind.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Config | ErrorKind::InvalidInput | ErrorKind::NotAcceptable => 2,
        ErrorKind::ChecksumMismatch => 3,
        ErrorKind::NotFound | ErrorKind::Offline => 4,
        ErrorKind::Upstream => 5,
        ErrorKind::Storage
        | ErrorKind::Unauthorized
        | ErrorKind::Conflict
        | ErrorKind::TooLarge => 1,
    }
}
