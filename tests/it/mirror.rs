//! Generic caching mirrors through `larder serve`: ordered sources with
//! fall-through, fetch-once, revalidation, outages, confinement, checksums,
//! and the `--source` short form used as `GENTOO_MIRRORS`.

use std::time::Duration;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::FixtureServer;
use crate::common::server::{Larder, get_bytes, http};

/// Three sources: the first lacks some files (404) and fails others (500),
/// the second is down, the third has everything.
struct Sources {
    first: FixtureServer,
    down: FixtureServer,
    third: FixtureServer,
}

impl Sources {
    async fn start() -> Self {
        let first = FixtureServer::start().await;
        let mut down = FixtureServer::start().await;
        down.stop().await;
        let third = FixtureServer::start().await;
        for name in [
            "only-third.tar.gz",
            "fails-first.tar.gz",
            "everywhere.tar.gz",
        ] {
            third.put(
                &format!("/distfiles/{name}"),
                format!("{name} from the third source"),
            );
        }
        first.put(
            "/distfiles/everywhere.tar.gz",
            "everywhere.tar.gz from the first source",
        );
        first.put("/distfiles/fails-first.tar.gz", "never served");
        first.fail_next("/distfiles/fails-first.tar.gz", 1000);
        Self { first, down, third }
    }

    fn urls(&self) -> [String; 3] {
        [self.first.url("/"), self.down.url("/"), self.third.url("/")]
    }
}

fn config(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("larder.toml");
    std::fs::write(
        &path,
        format!("[client]\nretries = 0\nconnect-timeout = \"2s\"\n{body}"),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

fn mirror_table(name: &str, sources: &[String], extra: &str) -> String {
    let sources: Vec<String> = sources.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "[[mirror]]\nname = \"{name}\"\nsources = [{}]\n{extra}\n",
        sources.join(", ")
    )
}

async fn get_text(larder: &Larder, path: &str) -> (StatusCode, String) {
    let response = http().get(larder.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn files_come_from_the_first_source_that_has_them_once() {
    let sources = Sources::start().await;
    let dir = tempfile::tempdir().unwrap();
    let [first, down, third] = sources.urls();
    let tables = mirror_table("gentoo", &[first.clone(), down, third.clone()], "")
        + &mirror_table("up", &[first, third], "");
    let config = config(dir.path(), &tables);
    let larder = Larder::start(&["--config", &config]).await;

    for _ in 0..2 {
        let (status, body) = get_text(&larder, "/mirror/gentoo/distfiles/only-third.tar.gz").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "only-third.tar.gz from the third source")
        );
        let (status, body) = get_text(&larder, "/mirror/gentoo/distfiles/fails-first.tar.gz").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "fails-first.tar.gz from the third source")
        );
        let (status, body) = get_text(&larder, "/mirror/gentoo/distfiles/everywhere.tar.gz").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "everywhere.tar.gz from the first source")
        );
    }
    assert_eq!(sources.first.hits("/distfiles/only-third.tar.gz"), 1);
    assert_eq!(sources.third.hits("/distfiles/only-third.tar.gz"), 1);
    assert_eq!(sources.first.hits("/distfiles/fails-first.tar.gz"), 1);
    assert_eq!(sources.third.hits("/distfiles/fails-first.tar.gz"), 1);
    assert_eq!(sources.third.hits("/distfiles/everywhere.tar.gz"), 0);

    // A source that is down might have had it: that is not a 404.
    let (status, _) = get_text(&larder, "/mirror/gentoo/distfiles/nowhere.tar.gz").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    for _ in 0..3 {
        let (status, _) = get_text(&larder, "/mirror/up/distfiles/nowhere.tar.gz").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "404 from every source");
    }
    assert_eq!(
        sources.third.hits("/distfiles/nowhere.tar.gz"),
        2,
        "404s are remembered"
    );
    let (status, _) = get_text(&larder, "/mirror/gentoo/distfiles/").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no directory listings");
    assert_eq!(sources.third.hits("/distfiles/"), 0);
}

#[tokio::test]
async fn concurrent_requests_fetch_once_and_ranges_work() {
    let sources = Sources::start().await;
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    sources.third.put("/distfiles/big.tar.xz", big.clone());
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &mirror_table("m", &sources.urls(), ""));
    let larder = Larder::start(&["--config", &config]).await;
    let url = larder.url("/mirror/m/distfiles/big.tar.xz");
    let clients = (0..16).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { get_bytes(url).await })
    });
    for body in futures::future::join_all(clients).await {
        assert!(body.unwrap() == big);
    }
    assert_eq!(sources.third.hits("/distfiles/big.tar.xz"), 1);
    let response = http()
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap(), big[10..20]);
}

#[tokio::test]
async fn revalidate_policy_refreshes_after_its_age() {
    let source = FixtureServer::start().await;
    source.put("/Manifest", "version 1");
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mirror_table("meta", &[source.url("/")], "revalidate = \"1s\""),
    );
    let larder = Larder::start(&["--config", &config]).await;

    assert_eq!(
        get_text(&larder, "/mirror/meta/Manifest").await.1,
        "version 1"
    );
    source.put("/Manifest", "version 2");
    assert_eq!(
        get_text(&larder, "/mirror/meta/Manifest").await.1,
        "version 1",
        "still fresh"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        get_text(&larder, "/mirror/meta/Manifest").await.1,
        "version 2",
        "refreshed"
    );
    assert_eq!(source.hits("/Manifest"), 2);

    // Unchanged after its age: revalidated with the ETag (a 304), same bytes.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = http()
        .get(larder.url("/mirror/meta/Manifest"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.text().await.unwrap(), "version 2");
    assert_eq!(source.hits("/Manifest"), 3);

    // Every source down: the stored copy is served stale.
    let mut source = source;
    source.stop().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        get_text(&larder, "/mirror/meta/Manifest").await,
        (StatusCode::OK, "version 2".to_owned())
    );
}

#[tokio::test]
async fn all_sources_down_serves_cached_files_and_502s_the_rest() {
    let mut sources = Sources::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &mirror_table("m", &sources.urls(), ""));
    let larder = Larder::start(&["--config", &config]).await;
    assert_eq!(
        get_text(&larder, "/mirror/m/distfiles/only-third.tar.gz")
            .await
            .0,
        StatusCode::OK
    );
    sources.first.stop().await;
    sources.third.stop().await;
    let (status, body) = get_text(&larder, "/mirror/m/distfiles/only-third.tar.gz").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "only-third.tar.gz from the third source")
    );
    let (status, body) = get_text(&larder, "/mirror/m/distfiles/everywhere.tar.gz").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.contains("upstream failed"), "{body}");
    assert!(!body.contains("127.0.0.1"), "{body}");
}

/// Sends a request line exactly as given (HTTP clients normalize `..`).
async fn raw_status(addr: &str, target: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn paths_that_try_to_escape_are_refused() {
    let sources = Sources::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mirror_table("m", &sources.urls(), "mount = \"/distfiles\""),
    );
    let larder = Larder::start(&["--config", &config]).await;
    let addr = larder.base.trim_start_matches("http://").to_owned();
    for target in [
        "/mirror/m/../../etc/passwd",
        "/mirror/m/distfiles/%2e%2e/%2e%2e/secret",
        "/mirror/m/distfiles%2F..%2Fsecret",
        "/mirror/m/a//b",
        "/mirror/m/http://evil.invalid/x",
        "/distfiles/..%5C..%5Csecret",
        "/distfiles/./x",
    ] {
        let status = raw_status(&addr, target).await;
        assert_eq!(status, 400, "{target}");
    }
    assert_eq!(raw_status(&addr, "/mirror/nope/x").await, 404);
    assert_eq!(
        sources.first.hits("/etc/passwd") + sources.third.hits("/secret"),
        0
    );
    // The mount prefix serves the same mirror; query strings are not passed on.
    let (status, body) = get_text(&larder, "/distfiles/distfiles/only-third.tar.gz?token=x").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "only-third.tar.gz from the third source")
    );
}

#[tokio::test]
async fn checksum_files_are_enforced() {
    let source = FixtureServer::start().await;
    source.put("/pub/good.tar.gz", "good bytes");
    source.put("/pub/bad.tar.gz", "tampered bytes");
    let sums = format!(
        "{}  good.tar.gz\n{}  bad.tar.gz\n",
        hex::encode(Sha256::digest(b"good bytes")),
        hex::encode(Sha256::digest(b"original bytes"))
    );
    source.put("/pub/SHA256SUMS", sums);
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mirror_table("rel", &[source.url("/")], "checksums = \"SHA256SUMS\""),
    );
    let larder = Larder::start(&["--config", &config]).await;
    assert_eq!(
        get_text(&larder, "/mirror/rel/pub/good.tar.gz").await,
        (StatusCode::OK, "good bytes".to_owned())
    );
    let outcome = match http()
        .get(larder.url("/mirror/rel/pub/bad.tar.gz"))
        .send()
        .await
    {
        Ok(response) if response.status() == StatusCode::OK => response.bytes().await.ok(),
        _ => None,
    };
    assert!(outcome.is_none(), "tampered bytes were served complete");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stored = crate::common::tree(&larder.data_dir.join("blobs"));
    let tampered = hex::encode(Sha256::digest(b"tampered bytes"));
    assert!(!stored.iter().any(|p| p.ends_with(&tampered)), "{stored:?}");
}

#[tokio::test]
async fn source_short_form_serves_a_gentoo_mirrors_layout() {
    let sources = Sources::start().await;
    let [first, _, third] = sources.urls();
    let larder = Larder::start(&["--source", &first, "--source", &third]).await;
    // GENTOO_MIRRORS="http://HOST:PORT/" makes emerge ask for /distfiles/<file>.
    let (status, body) = get_text(&larder, "/distfiles/only-third.tar.gz").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "only-third.tar.gz from the third source")
    );
    let (status, _) = get_text(&larder, "/distfiles/only-third.tar.gz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sources.third.hits("/distfiles/only-third.tar.gz"), 1);
    let health = http().get(larder.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "larder's own routes still win"
    );
}

#[tokio::test]
async fn overlapping_mounts_are_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mirror_table(
            "m",
            &["http://127.0.0.1:9/".to_owned()],
            "mount = \"/simple\"",
        ),
    );
    let run = crate::common::larder(dir.path(), &["check-config", "--config", &config]).await;
    run.assert_err("mirror[1].mount").assert_err("/simple");
}
