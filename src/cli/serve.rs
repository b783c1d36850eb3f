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
    let signals = Signals::watch();
    let stopping = {
        let mut signals = signals.clone();
        async move { signals.first().await }
    };
    let timeout = limits.shutdown_timeout;
    let cut = {
        let mut signals = signals.clone();
        async move {
            signals.first().await;
            tokio::time::sleep(timeout).await;
        }
    };
    crate::http::server::serve(
        listener,
        crate::http::router(app.clone()),
        &limits,
        stopping,
        cut,
    )
    .await;
    let deadline = signals
        .since()
        .map_or_else(tokio::time::Instant::now, |at| at + timeout);
    app.shutdown(deadline).await;
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGINT and SIGTERM: the first starts a graceful shutdown, a second exits
/// at once (what someone pressing Ctrl-C again wants).
#[derive(Clone)]
struct Signals(tokio::sync::watch::Receiver<Option<tokio::time::Instant>>);

impl Signals {
    fn watch() -> Self {
        let (tx, rx) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            next_signal().await;
            let _ = tx.send(Some(tokio::time::Instant::now()));
            info!(
                "shutting down: no new connections; open responses and downloads may finish \
                 (a second Ctrl-C or SIGTERM exits at once)"
            );
            next_signal().await;
            warn!("second signal: exiting now");
            std::process::exit(130);
        });
        Self(rx)
    }

    /// Resolves once the first signal arrived.
    async fn first(&mut self) {
        let _ = self.0.wait_for(Option::is_some).await;
    }

    /// When the first signal arrived, if it did.
    fn since(&self) -> Option<tokio::time::Instant> {
        *self.0.borrow()
    }
}

async fn next_signal() {
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
