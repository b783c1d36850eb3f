//! The `larder` binary: parse the command line, run it, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use larder::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // File reads run on the blocking pool; a few threads keep the disk busy,
    // hundreds (tokio's default cap is 512) only cost memory.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
    {
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
