//! `larder verify [--repair]`: rehash every blob and reconcile the catalog
//! with the store. Findings go to stdout (one per line, or a JSON report
//! with `--json`), progress and the summary to stderr. The exit code is 1
//! when anything was found, repaired or not, so scripts notice either way.

use std::process::ExitCode;

use indicatif::HumanBytes;

use super::progress::Bar;
use super::{Cli, ConfigFlags};
use crate::app::App;
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Quarantine corrupt blobs, forget missing ones, record orphans,
    /// remove stale staging files, finish interrupted prunes.
    #[arg(long)]
    repair: bool,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let config = cli.load_config(&args.flags)?;
    super::init_logging(config.log_format, "warn");
    super::announce_data_dir(&config, super::DataUse::Read)?;
    let app = App::open(config).await?;
    let bar = Bar::new();
    let report = app.verify(args.repair, &bar).await;
    bar.finish();
    let report = report?;

    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::invalid(format!("cannot write the report: {e}")))?;
        println!("{text}");
    } else {
        for finding in &report.findings {
            let what = finding
                .sha256
                .as_deref()
                .or(finding.path.as_deref())
                .unwrap_or_default();
            let problem = serde_json::to_value(finding.problem)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            match &finding.action {
                Some(action) => println!("{problem}\t{what}\t{}\t-> {action}", finding.detail),
                None => println!("{problem}\t{what}\t{}", finding.detail),
            }
        }
    }
    eprintln!(
        "checked {} blob(s), {}: {}",
        report.blobs_checked,
        HumanBytes(report.bytes_checked),
        match (report.findings.len(), report.repair) {
            (0, _) => "no damage".to_owned(),
            (n, true) => format!("{n} problem(s) found and handled"),
            (n, false) => format!("{n} problem(s) found; `larder verify --repair` fixes them"),
        }
    );
    Ok(if report.found_damage() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
