//! `larder export`: stored files as a tree (or `.tar.zst`) that installs with
//! no network. Data (the output path, or `--json`) on stdout, the rest on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::progress::Bar;
use super::{Cli, ConfigFlags};
use crate::app::{App, Destination, ExportReport, Selection};
use crate::error::{Error, Result};
use crate::export::Layout;
use crate::requirements::{self, Source, Targets};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true)
    .args(["requirements", "locks", "projects", "all"])))]
#[command(group(clap::ArgGroup::new("output").required(true).args(["to", "archive"])))]
pub struct Args {
    /// Write the tree into this directory (new, or empty).
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Write one `.tar.zst` file instead of a directory (must not exist).
    #[arg(long, value_name = "FILE")]
    archive: Option<PathBuf>,
    /// Export the stored files a requirements file (or `pip freeze` output) names; repeatable.
    #[arg(short = 'r', long = "requirement", value_name = "FILE")]
    requirements: Vec<PathBuf>,
    /// Export the stored files a `uv.lock` or `pylock.toml` names; repeatable.
    #[arg(long = "lock", value_name = "FILE")]
    locks: Vec<PathBuf>,
    /// Export every stored file of a project; repeatable.
    #[arg(long = "project", value_name = "NAME")]
    projects: Vec<String>,
    /// Export every stored package file.
    #[arg(long, conflicts_with_all = ["requirements", "locks", "projects"])]
    all: bool,
    /// Also export what the requirements and lock entries depend on (read
    /// from stored core metadata) until closure: one stored version each,
    /// only the files an installer on the `--python` / `--platform` targets
    /// takes. Never fetches; what is needed and not stored is reported.
    #[arg(long, conflicts_with = "all")]
    deps: bool,
    /// With `--deps`: a target Python (`3.12`); repeatable. Default: any.
    #[arg(long = "python", value_name = "VERSION", requires = "deps")]
    pythons: Vec<String>,
    /// With `--deps`: a target platform tag (`manylinux_2_28_x86_64`,
    /// `macosx_14_0_arm64`, `win_amd64`); repeatable. Default: any.
    #[arg(long = "platform", value_name = "TAG", requires = "deps")]
    platforms: Vec<String>,
    /// `index`: files/, simple/ pages, MANIFEST; `buildout`: a zc.buildout
    /// download cache (dist/, MANIFEST).
    #[arg(long, value_enum, default_value = "index")]
    layout: LayoutArg,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LayoutArg {
    Index,
    Buildout,
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    if args.deps && args.requirements.is_empty() && args.locks.is_empty() {
        return Err(Error::invalid(
            "`--deps` follows requirements: pass `-r requirements.txt` and/or `--lock uv.lock`",
        ));
    }
    let config = cli.load_config(&args.flags)?;
    super::init_logging(config.log_format, "warn");
    let mut selection = Selection {
        all: args.all,
        projects: args.projects.clone(),
        wanted: Vec::new(),
        deps: if args.deps {
            Some(Targets::new(&args.pythons, &args.platforms)?)
        } else {
            None
        },
    };
    for path in args.requirements.iter().chain(&args.locks) {
        selection.wanted.extend(read_wanted(path)?);
    }
    let destination = match (&args.to, &args.archive) {
        (Some(dir), _) => Destination::Dir(dir.clone()),
        (None, Some(file)) => Destination::Archive(file.clone()),
        (None, None) => return Err(Error::invalid("give `--to DIR` or `--archive FILE`")),
    };
    let layout = match args.layout {
        LayoutArg::Index => Layout::Index,
        LayoutArg::Buildout => Layout::Buildout,
    };
    let app = App::open(config).await?;
    let bar = Bar::new();
    let report = app.export(&selection, &destination, layout, &bar).await;
    bar.finish();
    let report = report?;
    print(&report, args.json)?;
    Ok(if report.missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::exit_code(crate::error::ErrorKind::NotFound))
    })
}

/// The projects a requirements or lock file names; its notes (lines larder
/// cannot act on) are warnings, an unreadable file is an error.
fn read_wanted(path: &Path) -> Result<Vec<requirements::Wanted>> {
    let source = load(&path.display().to_string())?;
    let mut loader = |include: &str, from: &str| {
        let base = Path::new(from).parent().unwrap_or(Path::new(""));
        load(&base.join(include).display().to_string()).map_err(|e| e.to_string())
    };
    let parsed = requirements::parse(&source, &mut loader)?;
    for note in &parsed.notes {
        eprintln!("warning: {}: `{}`: {}", note.origin, note.text, note.reason);
    }
    Ok(parsed.wanted)
}

fn load(name: &str) -> Result<Source> {
    let text = std::fs::read_to_string(name)
        .map_err(|e| Error::invalid(format!("cannot read `{name}`: {e}")))?;
    Ok(Source {
        name: name.to_owned(),
        text,
    })
}

fn print(report: &ExportReport, json: bool) -> Result<()> {
    let stdout_error = |e| Error::storage("cannot write to stdout", e);
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| Error::storage("cannot render the report", std::io::Error::other(e)))?;
        writeln!(out, "{text}").map_err(stdout_error)?;
        return Ok(());
    }
    eprintln!(
        "exported {} files ({} bytes) of {} projects",
        report.files.len(),
        report.bytes,
        report.projects.len()
    );
    for missing in &report.missing {
        eprintln!("not exported: {}: {}", missing.what, missing.reason);
    }
    writeln!(out, "{}", report.output).map_err(stdout_error)
}
