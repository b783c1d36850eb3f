//! Stopping `larder serve`: the first signal stops accepting and lets open
//! responses finish for at most `server.shutdown-timeout`, saying what it
//! waits for; a second signal exits at once.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::server::Larder;

const BIG: &str = "larder_demo_big-1.0-py3-none-any.whl";

/// A larder downloading the 2 MiB demo wheel from a slow upstream (64 KiB
/// per 100 ms) for a client that follows it, and its JSON log.
async fn stuck_client(
    timeout: &str,
) -> (
    Larder,
    tokio::net::TcpStream,
    tempfile::TempDir,
    FixtureIndex,
) {
    let index = FixtureIndex::start(Flavor::Json).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("larder.toml");
    std::fs::write(
        &config,
        format!("[server]\nshutdown-timeout = \"{timeout}\"\n"),
    )
    .unwrap();
    let log = dir.path().join("log.jsonl");
    let larder = Larder::start_with_json_log(
        &[
            "--config",
            config.to_str().unwrap(),
            "--upstream",
            &index.simple_url(),
        ],
        &log,
    )
    .await;
    index.throttle(BIG, 64 * 1024, Duration::from_millis(100));
    let path = larder.file_path("larder-demo-big", BIG).await;
    let addr = larder.base.trim_start_matches("http://").to_owned();
    let mut client = tokio::net::TcpStream::connect(&addr).await.unwrap();
    client
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 1];
    client.read_exact(&mut first).await.unwrap();
    (larder, client, dir, index)
}

fn log(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("log.jsonl")).unwrap()
}

#[tokio::test]
async fn a_stuck_client_holds_shutdown_only_until_the_timeout() {
    let (mut larder, _client, dir, _index) = stuck_client("2s").await;
    let signalled = Instant::now();
    larder.signal("INT");
    let status = larder
        .exit_within(Duration::from_secs(20))
        .await
        .expect("larder did not stop after its shutdown timeout");
    let took = signalled.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took >= Duration::from_millis(1900),
        "did not wait: {took:?}"
    );
    // Nothing half-written was kept: the cut download left no blob.
    let blobs = crate::common::tree(&larder.data_dir.join("blobs"));
    assert!(
        blobs
            .iter()
            .all(|p| !larder.data_dir.join("blobs").join(p).is_file()),
        "{blobs:?}"
    );
    let staging = crate::common::tree(&larder.data_dir.join("staging"));
    assert!(staging.is_empty(), "staging files left: {staging:?}");
    let log = log(&dir);
    for said in [
        "shutting down",
        "waiting for open connections",
        "waiting for downloads in flight",
        "cutting off the connections still open",
        "\"stopped\"",
    ] {
        assert!(log.contains(said), "`{said}` not in {log}");
    }
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let (mut larder, _client, dir, _index) = stuck_client("5m").await;
    larder.signal("INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        larder
            .exit_within(Duration::from_millis(200))
            .await
            .is_none(),
        "exited before its open response finished"
    );
    let signalled = Instant::now();
    larder.signal("TERM");
    let status = larder
        .exit_within(Duration::from_secs(5))
        .await
        .expect("a second signal did not stop larder");
    assert!(signalled.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    assert!(log(&dir).contains("second signal"));
}
