//! The `larder` binary: parse the command line, run it, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use larder::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("larder: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("larder: error: {e}");
            ExitCode::from(cli::exit_code(e.kind()))
        }
    }
}

/// Logs go to stderr; `LARDER_LOG` (or `RUST_LOG`) sets the filter, warnings by default.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("LARDER_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
}
