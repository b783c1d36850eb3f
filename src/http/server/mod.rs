//! The accept loop: every connection served by hyper (HTTP/1.1 or HTTP/2)
//! over a [`Socket`], within the `[server]` limits: how many connections,
//! how many from one address, how large a request head, how long a client
//! may take to send one or keep a connection idle.
//!
//! On shutdown it stops accepting, asks every connection to finish its
//! requests in flight and close, and returns once all have.

mod activity;
mod slots;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::config::ServerConfig;
use crate::zero_copy::Socket;

use activity::{Activity, Tracked, Watched};
use slots::{RefusalLog, Slot, Slots};

/// HTTP/2 streams one connection may have open; RFC 9113 advises at least 100.
const MAX_STREAMS: u32 = 100;
/// HTTP/2 connections with requests in flight are pinged this often, and
/// closed when a ping is not answered within [`PING_TIMEOUT`]: a peer that
/// vanished must not hold a download's resources forever.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// After a failed accept (out of file descriptors), wait this long before
/// the next: retrying at once would spin, and connections closing meanwhile
/// free descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What a refused connection is told before it is closed. Written without
/// reading the request, so that a refusal costs no task and no wait.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 45\r\n\
retry-after: 1\r\n\
connection: close\r\n\
\r\n\
larder has too many connections; retry later\n";

/// Serves `router` on `listener` until `shutdown` resolves and every
/// connection has finished, or `cut` resolves first (then the connections
/// still open are left for the caller to drop with the runtime).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()>,
    cut: impl Future<Output = ()>,
) {
    let builder = Arc::new(builder(config));
    let slots = Slots::new(config.max_connections, config.max_connections_per_client);
    let mut refusals = RefusalLog::default();
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    error!("cannot accept a connection: {e}");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match slots.take(addr.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                refuse(&tcp);
                refusals.refused(why);
                continue;
            }
        };
        // Without TCP_NODELAY a small response whose headers and body leave
        // in two writes waits for the client's delayed ACK: ~40 ms each.
        if let Err(e) = tcp.set_nodelay(true) {
            warn!("cannot set TCP_NODELAY on a connection: {e}");
        }
        connections.spawn(connection(
            Socket::new(tcp),
            slot,
            builder.clone(),
            router.clone(),
            config.clone(),
            closing.clone(),
        ));
    }
    drop(listener);
    closing.cancel();
    connections.close();
    if !connections.is_empty() {
        info!(
            connections = connections.len(),
            "stopped accepting; waiting for open connections to finish"
        );
    }
    tokio::select! {
        () = connections.wait() => {}
        () = cut => warn!(
            connections = connections.len(),
            "shutdown timeout: cutting off the connections still open"
        ),
    }
}

fn builder(config: &ServerConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    let max_header_size = usize::try_from(config.max_header_size).unwrap_or(usize::MAX);
    builder
        .http1()
        // hyper answers a head that outgrows its read buffer with 431.
        .max_buf_size(max_header_size)
        // `Activity` times heads out instead (see there).
        .header_read_timeout(None);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_size).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_STREAMS)
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT);
    builder
}

/// Serves one connection until it ends, its deadline passes (see
/// [`Activity`]) or, on shutdown, its requests in flight are done.
async fn connection(
    socket: Socket,
    _slot: Slot,
    builder: Arc<Builder<TokioExecutor>>,
    router: Router,
    config: ServerConfig,
    closing: CancellationToken,
) {
    let activity = Activity::new(config.header_timeout, config.idle_timeout);
    let io = TokioIo::new(Watched::new(socket, activity.clone()));
    let service = Tracked {
        inner: TowerToHyperService::new(router),
        activity: activity.clone(),
    };
    let mut served = pin!(builder.serve_connection(io, service));
    let mut shutting_down = false;
    loop {
        let deadline = activity.deadline();
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    debug!("connection ended with an error: {e}");
                }
                return;
            }
            () = sleep_until(deadline) => {
                if activity.expired() {
                    debug!("closing a connection past its header or idle timeout");
                    return;
                }
            }
            () = activity.changed() => {}
            () = closing.cancelled(), if !shutting_down => {
                shutting_down = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Tells a connection over a limit so, if its socket takes the few bytes at
/// once, and closes it. A client that already sent its request may see a
/// reset instead: either way it is not left waiting.
fn refuse(tcp: &TcpStream) {
    let _ = tcp.try_write(REFUSED);
}

/// Errors of one connection that went away before it was accepted, not of
/// the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), body.len());
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
    }
}
