//! `larder stats`: what the store holds and all-time traffic, from the
//! catalog (no server needed). Meanings of the numbers: `app::stats` and
//! the README.

use std::process::ExitCode;

use indicatif::HumanBytes;

use super::{Cli, ConfigFlags};
use crate::app::{App, Stats, Tally};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: ConfigFlags,
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let config = cli.load_config(&args.flags)?;
    super::init_logging(config.log_format, "warn");
    super::announce_data_dir(&config, super::DataUse::Read)?;
    let stats = App::open(config).await?.stats().await?;
    if args.json {
        let text = serde_json::to_string_pretty(&stats)
            .map_err(|e| Error::invalid(format!("cannot write the report: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", human(&stats));
    }
    Ok(ExitCode::SUCCESS)
}

fn human(stats: &Stats) -> String {
    let line = |label: &str, tally: &Tally| {
        format!(
            "  {label:<24} {:>8} files {:>12}\n",
            tally.files,
            HumanBytes(tally.bytes).to_string()
        )
    };
    let mut out = String::from("stored\n");
    out += &line("total", &stats.total);
    out += "by origin\n";
    for (origin, tally) in &stats.by_origin {
        let name = serde_json::to_value(origin)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out += &line(&name, tally);
    }
    out += "by source\n";
    for (source, tally) in &stats.by_source {
        out += &line(source, tally);
    }
    if stats.deleting > 0 {
        out += &format!(
            "  {} half-removed row(s): run `larder verify --repair`\n",
            stats.deleting
        );
    }
    let t = &stats.all_time;
    out += "all time (as the server last recorded it)\n";
    out += &format!(
        "  file hits {} misses {} hit ratio {}\n",
        t.file_hits,
        t.file_misses,
        t.hit_ratio
            .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
    );
    out += &format!("  page hits {} misses {}\n", t.page_hits, t.page_misses);
    out += &format!(
        "  served from cache {}, fetched from upstreams {}\n",
        HumanBytes(t.bytes_from_cache),
        HumanBytes(t.bytes_from_upstream)
    );
    out
}
