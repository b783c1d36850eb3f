//! `larder warm`: fill the cache from requirements and lock files before
//! anyone needs them (see `App::warm`). A progress bar on a terminal, a
//! summary on stderr, the whole report as JSON on stdout with `--json`; the
//! exit code is non-zero when anything failed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Cli, ConfigFlags};
use crate::app::{
    App, FileOutcome, FileStatus, RequirementStatus, WarmOptions, WarmProgress, WarmReport,
};
use crate::error::{Error, ErrorKind, Result};
use crate::requirements::Targets;
use crate::requirements::{self, Parsed, Source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A requirements file (pip syntax, `pip freeze` output); repeatable.
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    requirements: Vec<PathBuf>,
    /// A `uv.lock` or `pylock.toml` (PEP 751); repeatable.
    #[arg(long = "lock", value_name = "FILE")]
    locks: Vec<PathBuf>,
    /// A target Python (`3.12`); repeatable. Default: any.
    #[arg(long = "python", value_name = "VERSION")]
    pythons: Vec<String>,
    /// A target platform tag (`manylinux_2_28_x86_64`, `macosx_14_0_arm64`,
    /// `win_amd64`); repeatable. Default: any.
    #[arg(long = "platform", value_name = "TAG")]
    platforms: Vec<String>,
    /// Also warm dependencies, read from core metadata, until closure. This
    /// gathers a superset for caching; it is not a resolver.
    #[arg(long)]
    deps: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Downloads at a time.
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,
    #[command(flatten)]
    flags: ConfigFlags,
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    if args.requirements.is_empty() && args.locks.is_empty() {
        return Err(Error::invalid(
            "nothing to warm: pass `-r requirements.txt` and/or `--lock uv.lock`",
        ));
    }
    let config = cli.load_config(&args.flags)?;
    super::init_logging(config.log_format, "warn");
    super::announce_data_dir(&config, super::DataUse::Write)?;
    let targets = Targets::new(&args.pythons, &args.platforms)?;
    let mut parsed = read_wanted(&args.requirements)?;
    parsed.extend(read_wanted(&args.locks)?);
    let app = App::open(config).await?;
    let bar = Bar::new();
    let options = WarmOptions {
        targets,
        deps: args.deps,
        concurrency: args.concurrency.max(1),
    };
    let report = app.warm(&parsed, &options, &bar).await?;
    bar.0.finish_and_clear();
    app.finish_downloads().await;
    summarize(&report);
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| {
            Error::new(ErrorKind::Storage, format!("cannot encode the report: {e}"))
        })?;
        println!("{json}");
    }
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads requirements and lock files from disk (kind told by name, see
/// [`requirements::FileKind`]), `-r` includes resolved relative to the
/// including file. Shared by the commands that take such files (`warm`,
/// `export`, `prune --keep`).
pub(crate) fn read_wanted(paths: &[PathBuf]) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    for path in paths {
        let source = read_source(path)?;
        let mut loader = |included: &str, from: &str| -> std::result::Result<Source, String> {
            let base = Path::new(from).parent().unwrap_or(Path::new(""));
            read_source(&base.join(included)).map_err(|e| e.to_string())
        };
        parsed.extend(requirements::parse(&source, &mut loader)?);
    }
    Ok(parsed)
}

fn read_source(path: &Path) -> Result<Source> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("cannot read `{}`: {e}", path.display()),
        )
    })?;
    Ok(Source {
        name: path.display().to_string(),
        text,
    })
}

/// The human summary on stderr: what failed and why, then the counts.
fn summarize(report: &WarmReport) {
    for note in &report.notes {
        eprintln!(
            "{} ({}): {} — {}",
            note.kind, note.origin, note.text, note.reason
        );
    }
    for requirement in &report.requirements {
        if requirement.status == RequirementStatus::Unsatisfiable {
            eprintln!(
                "unsatisfiable: {} ({}): {}",
                requirement.requirement,
                requirement.origin,
                requirement.reason.as_deref().unwrap_or_default()
            );
        }
    }
    for file in &report.files {
        if file.status == FileStatus::Failed {
            eprintln!(
                "failed: {}: {}",
                file.filename,
                file.error.as_deref().unwrap_or_default()
            );
        }
    }
    let unsatisfiable = report
        .requirements
        .iter()
        .filter(|r| r.status == RequirementStatus::Unsatisfiable)
        .count();
    eprintln!(
        "warmed {} requirement(s): {} file(s) fetched, {} already cached, {} failed; {} unsatisfiable",
        report.requirements.len(),
        report.count(FileStatus::Fetched),
        report.count(FileStatus::AlreadyCached),
        report.count(FileStatus::Failed),
        unsatisfiable,
    );
}

/// Files done out of files planned, on stderr when it is a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(ProgressBar::hidden());
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} files {wide_msg}") {
            bar.set_style(style);
        }
        Self(bar)
    }
}

impl WarmProgress for Bar {
    fn planned(&self, count: usize) {
        self.0.inc_length(count as u64);
    }

    fn finished(&self, outcome: &FileOutcome) {
        self.0.set_message(outcome.filename.clone());
        self.0.inc(1);
    }
}
