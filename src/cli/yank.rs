//! `larder yank`, `larder unyank` and `larder delete`: what admins do to
//! uploaded files. Yanking (PEP 592) keeps a file installable when pinned;
//! deleting removes it from the index and frees its bytes.

use std::process::ExitCode;

use super::{Cli, ConfigFlags};
use crate::app::App;
use crate::error::Result;

/// The file an admin command acts on.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The project (any spelling of its name).
    project: String,
    /// The uploaded file's name, e.g. `demo-1.0-py3-none-any.whl`.
    file: String,
    #[command(flatten)]
    flags: ConfigFlags,
}

#[derive(Debug, clap::Args)]
pub struct YankArgs {
    #[command(flatten)]
    target: Target,
    /// Why, shown to users by installers.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

async fn open(cli: &Cli, target: &Target) -> Result<App> {
    let config = cli.load_config(&target.flags)?;
    super::init_logging(config.log_format, "warn");
    super::announce_data_dir(&config, super::DataUse::Write)?;
    App::open(config).await
}

pub(super) async fn yank(cli: &Cli, args: &YankArgs) -> Result<ExitCode> {
    let Target { project, file, .. } = &args.target;
    open(cli, &args.target)
        .await?
        .yank(project, file, args.reason.as_deref())
        .await?;
    eprintln!("yanked `{file}`");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn unyank(cli: &Cli, args: &Target) -> Result<ExitCode> {
    open(cli, args)
        .await?
        .unyank(&args.project, &args.file)
        .await?;
    eprintln!("unyanked `{}`", args.file);
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn delete(cli: &Cli, args: &Target) -> Result<ExitCode> {
    let deleted = open(cli, args)
        .await?
        .delete_private(&args.project, &args.file)
        .await?;
    eprintln!(
        "deleted `{}` ({} blob(s) freed)",
        args.file, deleted.freed_blobs
    );
    Ok(ExitCode::SUCCESS)
}
