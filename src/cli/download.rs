use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Cli, ConfigFlags};
use crate::download::{CacheOptions, Request, download};
use crate::error::{Error, Result};
use crate::model::{Md5Hex, Sha256Hex};
use crate::store::Expected;
use crate::upstream::Client;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An http(s) URL, a `file:` URL or a local path.
    url: String,
    /// Also place the file here (without a cache: put it here instead of `./<name>`).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: Option<PathBuf>,
    /// Download cache directory (must exist).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Sub-directory of the cache for this download (created on demand).
    #[arg(long, value_name = "NAME", requires = "cache")]
    namespace: Option<String>,
    /// Name the cached copy by the MD5 of the URL instead of its base name.
    #[arg(long, requires = "cache")]
    hash_name: bool,
    /// Expected MD5 (hex) of the file.
    #[arg(long, value_name = "HEX")]
    md5: Option<String>,
    /// Expected SHA-256 (hex) of the file.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Never use the network: only cached copies and local files.
    #[arg(long)]
    offline: bool,
    /// Try the network first; use the cached copy when that fails.
    #[arg(long, requires = "cache")]
    fallback: bool,
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let config = cli.load_config(&ConfigFlags::default())?;
    super::init_logging(config.log_format, "warn");
    let client = Client::new(&config.client)?;
    let request = Request {
        url: args.url.clone(),
        cache: args.cache.as_ref().map(|dir| CacheOptions {
            dir: dir.clone(),
            namespace: args.namespace.clone(),
            hash_name: args.hash_name,
        }),
        output: args.output.clone(),
        expected: Expected {
            sha256: args.sha256.as_deref().map(Sha256Hex::parse).transpose()?,
            md5: args.md5.as_deref().map(Md5Hex::parse).transpose()?,
            len: None,
        },
        offline: args.offline || config.offline,
        fallback: args.fallback,
        progress: std::io::stderr().is_terminal(),
    };
    // On Ctrl-C the download future is dropped, which removes its staging file.
    let path = tokio::select! {
        result = download(&client, &request) => result?,
        _ = tokio::signal::ctrl_c() => {
            return Err(Error::invalid("interrupted"));
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", path.display()).map_err(|e| Error::storage("cannot write to stdout", e))?;
    Ok(ExitCode::SUCCESS)
}
