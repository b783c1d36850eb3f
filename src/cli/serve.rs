use std::io::Write;
use std::process::ExitCode;

use tracing::{info, warn};

use super::{Cli, ConfigFlags};
use crate::app::App;
use crate::app::NO_UPSTREAM;
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    flags: ConfigFlags,
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<ExitCode> {
    let config = cli.load_config(&args.flags)?;
    super::init_logging(config.log_format, "info");
    if config.upstreams.is_empty() && !config.offline {
        // Legitimate for a private-only index or a mirror-only cache, so a
        // warning, not a refusal; pages of unknown projects then say the same.
        warn!("{NO_UPSTREAM}");
    }
    let listen = config.listen;
    let app = App::open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::storage(format!("cannot listen on `{listen}`"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::storage("cannot read the listening address", e))?;
    info!(%addr, "listening");
    // Batched last-access and counter writes, background prune.
    app.start_housekeeping();
    // The first stdout line says where to connect (useful with port 0).
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}")
        .map_err(|e| Error::storage("cannot write to stdout", e))?;
    drop(out);

    // Connections that send stored files with sendfile(2), within the
    // `[server]` limits.
    let limits = app.config().server.clone();
    crate::http::server::serve(
        listener,
        crate::http::router(app.clone()),
        &limits,
        shutdown_signal(),
    )
    .await;
    info!("shutting down: waiting for downloads in flight");
    app.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
