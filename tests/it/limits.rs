//! `[server]` limits end to end, over raw TCP to 127.0.0.1 so that the
//! tests control every byte and its timing: slow and oversized request
//! heads, idle keep-alive connections, connection caps, and the status line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use bytes::Bytes;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::server::{Larder, get_bytes};

/// Every wait in these tests is bounded by this.
const PATIENCE: Duration = Duration::from_secs(5);

/// `larder serve --offline` with `[server]` set to `server` (TOML lines).
async fn serve_with(server: &str) -> (Larder, tempfile::TempDir) {
    serve_with_args(server, &["--offline"]).await
}

async fn serve_with_args(server: &str, args: &[&str]) -> (Larder, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("larder.toml");
    std::fs::write(&config, format!("[server]\n{server}\n")).unwrap();
    let mut args = args.to_vec();
    args.extend(["--config", config.to_str().unwrap()]);
    let larder = Larder::start(&args).await;
    (larder, dir)
}

/// A stored file of `len` bytes, many times what socket buffers hold,
/// behind larder with a 1 s idle timeout; the file's larder path.
async fn serve_big_file(len: usize) -> (FixtureIndex, Larder, tempfile::TempDir, String) {
    const NAME: &str = "larder_demo_huge-1.0-py3-none-any.whl";
    let index = FixtureIndex::start(Flavor::Both).await;
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    index.add_file("larder-demo-huge", NAME, Bytes::from(bytes));
    let (larder, dir) = serve_with_args(
        "idle-timeout = \"1s\"",
        &["--upstream", &index.simple_url()],
    )
    .await;
    let path = larder.file_path("larder-demo-huge", NAME).await;
    // Fetched once whole, so that it is stored and leaves through sendfile.
    assert_eq!(get_bytes(larder.url(&path)).await.len(), len);
    (index, larder, dir, path)
}

/// A connection whose receive buffer is small, so that larder's writes
/// wait for the client's reads.
async fn open_small_window(larder: &Larder) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(addr(larder)).await.unwrap()
}

fn addr(larder: &Larder) -> SocketAddr {
    larder
        .base
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap()
}

/// One client connection with what it has read but not yet consumed.
struct Conn {
    tcp: TcpStream,
    unread: Vec<u8>,
}

impl Conn {
    async fn open(larder: &Larder) -> Self {
        Self::from(TcpStream::connect(addr(larder)).await.unwrap())
    }

    /// A connection from another loopback address than 127.0.0.1.
    async fn open_from(larder: &Larder, local: &str) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
        Self::from(socket.connect(addr(larder)).await.unwrap())
    }

    fn from(tcp: TcpStream) -> Self {
        Self {
            tcp,
            unread: Vec::new(),
        }
    }

    /// Sends a keep-alive GET of `path` and reads its response.
    async fn get(&mut self, path: &str) -> Response {
        let request = format!("GET {path} HTTP/1.1\r\nhost: larder\r\n\r\n");
        self.tcp.write_all(request.as_bytes()).await.unwrap();
        self.response()
            .await
            .unwrap_or_else(|| panic!("the connection closed instead of answering {path}"))
    }

    /// Reads one response with a `content-length` body; `None` if the
    /// connection ends first.
    async fn response(&mut self) -> Option<Response> {
        let head_end = loop {
            if let Some(end) = find(&self.unread, b"\r\n\r\n") {
                break end + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8(self.unread[..head_end].to_vec()).unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no content-length in {head}"));
        while self.unread.len() < head_end + length {
            if !self.fill().await {
                return None;
            }
        }
        let body = self.unread[head_end..head_end + length].to_vec();
        self.unread.drain(..head_end + length);
        Some(Response {
            status_line: head.lines().next().unwrap().to_owned(),
            body: String::from_utf8(body).unwrap(),
        })
    }

    /// Reads more; false at the end of the stream (or a reset).
    async fn fill(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        let read = tokio::time::timeout(PATIENCE, self.tcp.read(&mut buf))
            .await
            .expect("larder neither answered nor closed the connection in time");
        match read {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.unread.extend_from_slice(&buf[..n]);
                true
            }
        }
    }

    /// Waits for larder to close the connection, reading anything it sends
    /// on the way; returns how long that took.
    async fn closed(&mut self) -> Duration {
        let start = Instant::now();
        while self.fill().await {}
        start.elapsed()
    }
}

struct Response {
    status_line: String,
    body: String,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads until larder closes the connection (or resets it); what it sent
/// and how long that took.
async fn read_until_closed(mut reader: impl AsyncRead + Unpin) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let read = tokio::time::timeout(PATIENCE, reader.read(&mut buf))
            .await
            .expect("larder did not close the connection in time");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

#[tokio::test]
async fn slow_request_heads_are_cut_off() {
    let (larder, _dir) = serve_with("header-timeout = \"1s\"").await;
    let conn = Conn::open(&larder).await;
    let (reader, mut writer) = conn.tcp.into_split();
    // One header line every 300 ms, for up to 6 s: a slowloris client.
    let trickle = tokio::spawn(async move {
        writer
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: larder\r\n")
            .await
            .unwrap();
        for line in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let header = format!("x-slow-{line}: still coming\r\n");
            if writer.write_all(header.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let (said, after) = read_until_closed(reader).await;
    trickle.abort();
    assert!(said.is_empty(), "no response to an unfinished head: {said}");
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(3),
        "closed after {after:?}, expected about 1 s"
    );
    // The server itself is fine.
    assert_eq!(Conn::open(&larder).await.get("/healthz").await.body, "ok\n");
}

#[tokio::test]
async fn an_oversized_head_gets_431_promptly() {
    let (larder, _dir) = serve_with("").await;
    let conn = Conn::open(&larder).await;
    let (reader, mut writer) = conn.tcp.into_split();
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: larder\r\nx-big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    // larder may stop reading (and close) before all of it is written.
    let send = tokio::spawn(async move {
        let _ = writer.write_all(big.as_bytes()).await;
        writer
    });
    let (said, after) = read_until_closed(reader).await;
    drop(send.await);
    assert!(
        said.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{said}"
    );
    assert!(after < Duration::from_secs(2), "answered after {after:?}");
    // A head under the limit is served.
    let mut conn = Conn::open(&larder).await;
    let fine = format!(
        "GET /healthz HTTP/1.1\r\nhost: larder\r\nx-big: {}\r\n\r\n",
        "a".repeat(32 * 1024)
    );
    conn.tcp.write_all(fine.as_bytes()).await.unwrap();
    let response = conn.response().await.unwrap();
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let (larder, _dir) = serve_with("idle-timeout = \"1s\"\nheader-timeout = \"10s\"").await;
    let mut conn = Conn::open(&larder).await;
    assert_eq!(conn.get("/healthz").await.body, "ok\n");
    // Idle for less than the timeout: still usable.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(conn.get("/healthz").await.body, "ok\n");
    let after = conn.closed().await;
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(3),
        "closed after {after:?}, expected about 1 s"
    );
}

#[tokio::test]
async fn connections_beyond_max_connections_are_refused() {
    let (larder, _dir) = serve_with("max-connections = 3").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut conn = Conn::open(&larder).await;
        assert_eq!(conn.get("/healthz").await.body, "ok\n");
        open.push(conn);
    }
    assert_refused(Conn::open(&larder).await).await;
    // The first three stay usable.
    for conn in &mut open {
        assert_eq!(conn.get("/healthz").await.body, "ok\n");
    }
    // Closing one frees its place (once larder has seen it close).
    drop(open.pop());
    assert!(served_soon(&larder, "127.0.0.1").await);
}

#[tokio::test]
async fn connections_beyond_the_per_client_cap_are_refused() {
    let (larder, _dir) = serve_with("max-connections-per-client = 2").await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut conn = Conn::open(&larder).await;
        assert_eq!(conn.get("/healthz").await.body, "ok\n");
        open.push(conn);
    }
    assert_refused(Conn::open(&larder).await).await;
    // Another address is another client.
    let mut other = Conn::open_from(&larder, "127.0.0.2").await;
    assert_eq!(other.get("/healthz").await.body, "ok\n");
    drop(open.pop());
    assert!(served_soon(&larder, "127.0.0.1").await);
}

/// A refused connection is told so at once and closed, unserved.
async fn assert_refused(mut conn: Conn) {
    let started = Instant::now();
    let response = conn.response().await.expect("a 503 before the close");
    assert_eq!(response.status_line, "HTTP/1.1 503 Service Unavailable");
    assert!(
        response.body.contains("too many connections"),
        "{}",
        response.body
    );
    conn.closed().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused after {:?}",
        started.elapsed()
    );
}

/// Whether a new connection from `local` is served within a few tries.
async fn served_soon(larder: &Larder, local: &str) -> bool {
    for _ in 0..20 {
        let mut conn = Conn::open_from(larder, local).await;
        let request = b"GET /healthz HTTP/1.1\r\nhost: larder\r\n\r\n";
        if conn.tcp.write_all(request).await.is_ok()
            && let Some(response) = conn.response().await
            && response.status_line == "HTTP/1.1 200 OK"
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn error_messages_stay_out_of_the_status_line() {
    let (larder, _dir) = serve_with("").await;
    let mut conn = Conn::open(&larder).await;
    let response = conn.get("/simple/re%00quests/").await;
    assert_eq!(response.status_line, "HTTP/1.1 400 Bad Request");
    assert!(
        response.body.contains("is not a valid project name"),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn http2_clients_are_served_within_the_limits() {
    let (larder, _dir) = serve_with("max-connections = 2").await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // Concurrent requests share the one connection.
    let requests = (0..8).map(|_| client.get(larder.url("/healthz")).send());
    for response in futures::future::join_all(requests).await {
        let response = response.unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.text().await.unwrap(), "ok\n");
    }
}

#[tokio::test]
async fn a_slow_download_outlasts_the_idle_timeout() {
    let len = 64 << 20;
    let (_index, larder, _dir, path) = serve_big_file(len).await;
    let mut tcp = TcpStream::connect(addr(&larder)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: larder\r\nconnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    // At most 256 KiB per 15 ms, about 16 MB/s: four seconds, four idle
    // timeouts, while socket buffers hold only a few MB. (A client so slow
    // that larder could not write for a whole idle timeout would be cut
    // off, as by a web server's send timeout.)
    let started = Instant::now();
    let mut got = Vec::with_capacity(len + 1024);
    let mut buf = vec![0u8; 256 * 1024];
    while started.elapsed() < Duration::from_secs(30) {
        match tokio::time::timeout(PATIENCE, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no bytes for {PATIENCE:?}"),
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let body_start = find(&got, b"\r\n\r\n").unwrap() + 4;
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(
        got.len() - body_start,
        len,
        "the whole file, however slowly"
    );
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the download took {:?}: not slow enough to test anything",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off() {
    let len = 16 << 20;
    let (_index, larder, _dir, path) = serve_big_file(len).await;
    let mut tcp = open_small_window(&larder).await;
    let request = format!("GET {path} HTTP/1.1\r\nhost: larder\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Reads nothing for three idle timeouts, then all there is.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (said, _) = read_until_closed(tcp).await;
    assert!(said.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(
        said.len() < len,
        "{} bytes arrived: larder kept the stalled response going",
        said.len()
    );
}
