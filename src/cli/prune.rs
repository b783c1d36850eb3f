//! `larder prune`: remove least recently used cached files. Removed files
//! are listed on stdout (or a JSON report with `--json`), the summary goes
//! to stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::HumanBytes;

use super::{Cli, ConfigFlags};
use crate::app::{App, KeepList, PruneOptions, PruneReport};
use crate::config::units;
use crate::error::{Error, Result};
use crate::requirements::{self, Source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove least recently used files until the store fits, e.g. `20 GiB`
    /// (default: `[prune] max-size` from the config).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_size: Option<u64>,
    /// Remove files not used for this long, e.g. `30d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    unused_for: Option<Duration>,
    /// Show what would be removed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// A requirements file, `pip freeze` output, `uv.lock` or `pylock.toml`
    /// whose files are never removed; repeatable.
    #[arg(long, value_name = "FILE")]
    keep: Vec<PathBuf>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

fn parse_size(raw: &str) -> std::result::Result<u64, String> {
    units::parse_size(raw).map_err(|e| e.to_string())
}

fn parse_duration(raw: &str) -> std::result::Result<Duration, String> {
    units::parse_duration(raw).map_err(|e| e.to_string())
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let config = cli.load_config(&args.flags)?;
    super::init_logging(config.log_format, "warn");
    let data_use = if args.dry_run {
        super::DataUse::Read
    } else {
        super::DataUse::Write
    };
    super::announce_data_dir(&config, data_use)?;
    let max_size = args.max_size.or(config.prune.max_size);
    if max_size.is_none() && args.unused_for.is_none() {
        return Err(Error::invalid(
            "say what to prune to: `--max-size SIZE`, `--unused-for DURATION`, or both \
             (or set `[prune] max-size` in the config)",
        ));
    }
    let keep = keep_list(&args.keep)?;
    let app = App::open(config).await?;
    let report = app
        .prune(&PruneOptions {
            max_size,
            unused_for: args.unused_for,
            dry_run: args.dry_run,
            keep,
        })
        .await?;
    print(&report, args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn print(report: &PruneReport, json: bool) -> Result<()> {
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| Error::invalid(format!("cannot write the report: {e}")))?;
        println!("{text}");
    } else {
        for blob in &report.removed {
            println!("{}\t{}", blob.names.join(" "), blob.size);
        }
    }
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    eprintln!(
        "{verb} {} file(s), {}; the store {} {} (was {})",
        report.removed.len(),
        HumanBytes(report.freed_bytes()),
        if report.dry_run {
            "would hold"
        } else {
            "holds"
        },
        HumanBytes(report.after_bytes),
        HumanBytes(report.before_bytes),
    );
    if report.skipped > 0 {
        eprintln!(
            "{} file(s) changed while pruning and were left alone",
            report.skipped
        );
    }
    Ok(())
}

/// Reads the `--keep` files (with their `-r` includes). Anything that does
/// not parse is an error: pruning with a half-read keep list could remove
/// what it should protect.
fn keep_list(paths: &[PathBuf]) -> Result<KeepList> {
    let mut parsed = requirements::Parsed::default();
    for path in paths {
        let source = read(path)?;
        let mut loader = |included: &str, from: &str| {
            let base = Path::new(from).parent().unwrap_or(Path::new(""));
            read(&base.join(included)).map_err(|e| e.to_string())
        };
        parsed.extend(requirements::parse(&source, &mut loader)?);
    }
    if parsed.has_invalid() {
        let problems: Vec<String> = parsed
            .notes
            .iter()
            .filter(|n| n.kind == requirements::NoteKind::Invalid)
            .map(|n| format!("{}: {}", n.origin, n.reason))
            .collect();
        return Err(Error::invalid(format!(
            "cannot read the keep list, so nothing was pruned: {}",
            problems.join("; ")
        )));
    }
    Ok(KeepList::new(parsed.wanted))
}

fn read(path: &Path) -> Result<Source> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::storage(format!("cannot read `{}`", path.display()), e))?;
    Ok(Source {
        name: path.display().to_string(),
        text,
    })
}
