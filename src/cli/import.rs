//! `larder import`: distributions from a directory or export archive become
//! cached files. The summary goes to stderr, `--json` to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::progress::Bar;
use super::{Cli, ConfigFlags};
use crate::app::{App, ImportReport};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A wheelhouse, a `pip download` folder, a zc.buildout download cache,
    /// an export tree, or an export archive (`.tar.zst`).
    source: PathBuf,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let config = cli.load_config(&args.flags)?;
    super::init_logging(config.log_format, "warn");
    super::announce_data_dir(&config, super::DataUse::Write)?;
    let app = App::open(config).await?;
    let bar = Bar::new();
    let report = app.import(&args.source, &bar).await;
    bar.finish();
    let report = report?;
    print(&report, args.json)?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print(report: &ImportReport, json: bool) -> Result<()> {
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| Error::storage("cannot render the report", std::io::Error::other(e)))?;
        writeln!(std::io::stdout().lock(), "{text}")
            .map_err(|e| Error::storage("cannot write to stdout", e))?;
        return Ok(());
    }
    for skipped in &report.skipped {
        eprintln!("skipped {}: {}", skipped.path, skipped.reason);
    }
    for failed in &report.failed {
        eprintln!("failed {}: {}", failed.path, failed.reason);
    }
    eprintln!(
        "imported {} files ({} bytes); {} already stored, {} skipped, {} failed",
        report.imported.len(),
        report.bytes,
        report.already_stored.len(),
        report.skipped.len(),
        report.failed.len()
    );
    Ok(())
}
