//! Package files through `larder serve`: one upstream fetch however many
//! clients, Range and HEAD, integrity, and faults.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_NONE_MATCH, RANGE,
};

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::server::{Larder, get_bytes, http};
use crate::common::tree;

const WHEEL: &str = "larder_demo_lib-1.1-py3-none-any.whl";
const BIG: &str = "larder_demo_big-1.0-py3-none-any.whl";

async fn setup() -> (FixtureIndex, Larder) {
    let index = FixtureIndex::start(Flavor::Both).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    (index, larder)
}

fn upstream_path(filename: &str) -> String {
    format!("/packages/{filename}")
}

/// Every blob file under the data directory.
fn blobs(larder: &Larder) -> Vec<String> {
    tree(&larder.data_dir.join("blobs"))
        .into_iter()
        .filter(|p| p.matches('/').count() == 4)
        .collect()
}

fn staging(larder: &Larder) -> Vec<String> {
    tree(&larder.data_dir.join("staging"))
}

#[tokio::test]
async fn file_is_fetched_once_then_served_from_the_store() {
    let (index, larder) = setup().await;
    let path = larder.file_path("larder-demo-lib", WHEEL).await;
    for _ in 0..3 {
        let response = http().get(larder.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[ETAG],
            format!("\"{}\"", index.sha256(WHEEL))
        );
        assert!(
            response.headers()[CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(response.headers()[ACCEPT_RANGES], "bytes");
        assert_eq!(response.bytes().await.unwrap(), index.file_bytes(WHEEL));
    }
    assert_eq!(index.hits(&upstream_path(WHEEL)), 1);
    assert_eq!(blobs(&larder).len(), 1);

    let metrics = http()
        .get(larder.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("larder_file_hits_total 2"), "{metrics}");
    assert!(metrics.contains("larder_file_misses_total 1"), "{metrics}");
    let health = http().get(larder.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn thirty_two_concurrent_clients_cause_one_upstream_fetch() {
    let (index, larder) = setup().await;
    index.throttle(BIG, 64 * 1024, Duration::from_millis(5));
    let path = larder.file_path("larder-demo-big", BIG).await;
    let url = larder.url(&path);
    let clients = (0..32).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let response = http().get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.unwrap()
        })
    });
    let expected = index.file_bytes(BIG);
    for body in futures::future::join_all(clients).await {
        assert!(body.unwrap() == expected, "a client got the wrong bytes");
    }
    assert_eq!(index.hits(&upstream_path(BIG)), 1);
}

#[tokio::test]
async fn download_survives_its_first_client_leaving() {
    let (index, larder) = setup().await;
    index.throttle(BIG, 64 * 1024, Duration::from_millis(5));
    let path = larder.file_path("larder-demo-big", BIG).await;
    let mut response = http().get(larder.url(&path)).send().await.unwrap();
    let _first_chunk = response.chunk().await.unwrap();
    drop(response);
    // A later client joins or finds the finished file; either way one fetch.
    let body = get_bytes(larder.url(&path)).await;
    assert!(body == index.file_bytes(BIG));
    assert_eq!(index.hits(&upstream_path(BIG)), 1);
}

async fn range(larder: &Larder, path: &str, spec: &str) -> reqwest::Response {
    http()
        .get(larder.url(path))
        .header(RANGE, spec)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ranges_and_head_on_cached_and_in_flight_files() {
    let (index, larder) = setup().await;
    let bytes = index.file_bytes(BIG);
    let len = bytes.len();
    index.throttle(BIG, 64 * 1024, Duration::from_millis(10));
    let path = larder.file_path("larder-demo-big", BIG).await;

    // In flight: the first request starts the download, the ranges follow it.
    let first = tokio::spawn({
        let url = larder.url(&path);
        async move { get_bytes(url).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for round in ["in flight", "cached"] {
        let cases: [(String, usize, usize); 3] = [
            ("bytes=0-99".into(), 0, 100),
            (format!("bytes={}-", len - 1000), len - 1000, len),
            ("bytes=-500".into(), len - 500, len),
        ];
        for (spec, start, end) in cases {
            let response = range(&larder, &path, &spec).await;
            assert_eq!(
                response.status(),
                StatusCode::PARTIAL_CONTENT,
                "{round} {spec}"
            );
            assert_eq!(
                response.headers()[CONTENT_RANGE],
                format!("bytes {start}-{}/{len}", end - 1),
                "{round} {spec}"
            );
            assert_eq!(
                response.headers()[CONTENT_LENGTH],
                (end - start).to_string()
            );
            assert_eq!(
                response.bytes().await.unwrap(),
                bytes.slice(start..end),
                "{round} {spec}"
            );
        }
        let head = http().head(larder.url(&path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[CONTENT_LENGTH], len.to_string(), "{round}");
        if round == "in flight" {
            assert!(first.is_finished() || index.hits(&upstream_path(BIG)) == 1);
        }
        while !first.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(first.await.unwrap() == bytes);
    assert_eq!(index.hits(&upstream_path(BIG)), 1);

    let response = range(&larder, &path, &format!("bytes={len}-")).await;
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()[CONTENT_RANGE], format!("bytes */{len}"));

    let etag = format!("\"{}\"", index.sha256(BIG));
    let response = http()
        .get(larder.url(&path))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn core_metadata_files_are_served_and_cached() {
    let (index, larder) = setup().await;
    let path = larder.file_path("larder-demo-lib", WHEEL).await;
    let metadata_path = format!("{path}.metadata");
    for _ in 0..2 {
        let response = http().get(larder.url(&metadata_path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        assert!(text.contains("Name: larder-demo-lib"), "{text}");
        assert!(text.contains("Requires-Dist: larder-demo-util"), "{text}");
    }
    assert_eq!(index.hits(&format!("{}.metadata", upstream_path(WHEEL))), 1);
    assert_eq!(
        index.hits(&upstream_path(WHEEL)),
        0,
        "the wheel itself was not needed"
    );
}

#[tokio::test]
async fn only_announced_digests_are_fetched() {
    let (index, larder) = setup().await;
    let path = larder.file_path("larder-demo-lib", WHEEL).await;
    let sha = index.sha256(WHEEL);
    let cases = [
        (
            format!("/files/{}/{WHEEL}", "0".repeat(64)),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/files/{sha}/other-1.0.tar.gz"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/files/{sha}/..%2F..%2Fetc%2Fpasswd"),
            StatusCode::NOT_FOUND,
        ),
        (
            "/files/not-a-digest/x.whl".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/files/{sha}/../../../etc/passwd"),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (bad, status) in cases {
        let response = http().get(larder.url(&bad)).send().await.unwrap();
        assert_eq!(response.status(), status, "{bad}");
    }
    assert_eq!(index.total_hits(), 1, "only the page was fetched");
    assert!(path.contains(&sha));
}

#[tokio::test]
async fn corrupt_upstream_bytes_are_never_served_complete_nor_stored() {
    let (index, larder) = setup().await;
    let path = larder.file_path("larder-demo-big", BIG).await;
    index.corrupt(BIG);
    let clients = (0..4).map(|_| {
        let url = larder.url(&path);
        tokio::spawn(async move {
            match http().get(url).send().await {
                Ok(response) if response.status() == StatusCode::OK => {
                    response.bytes().await.map(|b| b.len()).ok()
                }
                _ => None,
            }
        })
    });
    let full = index.file_bytes(BIG).len();
    for outcome in futures::future::join_all(clients).await {
        assert_ne!(
            outcome.unwrap(),
            Some(full),
            "a client got a complete, successful body"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(blobs(&larder).is_empty(), "corrupt bytes were stored");
    assert!(
        staging(&larder).is_empty(),
        "a staging file was left: {:?}",
        staging(&larder)
    );

    // Once the upstream is right again, the next request fetches cleanly.
    index.uncorrupt(BIG);
    let body = get_bytes(larder.url(&path)).await;
    assert!(body == index.file_bytes(BIG));
}

#[tokio::test]
async fn truncated_upstream_transfer_is_an_error_and_retried_cleanly() {
    let (index, larder) = setup().await;
    let path = larder.file_path("larder-demo-big", BIG).await;
    index.truncate(BIG);
    let outcome: Option<Bytes> = match http().get(larder.url(&path)).send().await {
        Ok(response) if response.status() == StatusCode::OK => response.bytes().await.ok(),
        _ => None,
    };
    assert!(outcome.is_none(), "a truncated file was presented as whole");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(blobs(&larder).is_empty());
    assert!(staging(&larder).is_empty());

    index.untruncate(BIG);
    let body = get_bytes(larder.url(&path)).await;
    assert!(body == index.file_bytes(BIG));
    assert_eq!(index.hits(&upstream_path(BIG)), 2);
}

#[tokio::test]
async fn upstream_errors_and_timeouts_are_bad_gateway() {
    let (index, larder) = setup().await;
    index.fail_pages(Some(503));
    let response = http()
        .get(larder.url("/simple/larder-demo-app/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body = response.text().await.unwrap();
    assert!(body.contains("upstream"), "{body}");
    assert!(
        !body.contains("127.0.0.1"),
        "5xx bodies are generic: {body}"
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_downloads_in_flight() {
    let (index, larder) = setup().await;
    index.throttle(BIG, 128 * 1024, Duration::from_millis(20));
    let path = larder.file_path("larder-demo-big", BIG).await;
    let mut response = http().get(larder.url(&path)).send().await.unwrap();
    let _first_chunk = response.chunk().await.unwrap();
    drop(response);
    let data_dir = larder.data_dir.clone();
    let _keep = larder.data_dir_guard();
    let status = larder.terminate().await;
    assert!(status.success(), "{status:?}");
    let blob = data_dir.join(format!(
        "blobs/v1/sha256/{sha}",
        sha = {
            let sha = index.sha256(BIG);
            format!("{}/{}/{sha}", &sha[0..2], &sha[2..4])
        }
    ));
    assert_eq!(std::fs::read(blob).unwrap(), index.file_bytes(BIG));
}

/// Runs curl with `args` and returns what it wrote to stdout.
async fn curl(args: &[&str]) -> Vec<u8> {
    let out = tokio::process::Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "60"])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn stored_files_reach_real_clients_whole_over_http1_and_http2() {
    // Several MiB with an odd length: stored files leave through sendfile
    // from a memory map, in page-sized and larger pieces.
    const HUGE: &str = "larder_demo_huge-1.0-py3-none-any.whl";
    let bytes: Bytes = (0..9 * 1024 * 1024 + 1234u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let (index, larder) = setup().await;
    index.add_file("larder-demo-huge", HUGE, bytes.clone());
    let url = larder.url(&larder.file_path("larder-demo-huge", HUGE).await);
    assert!(get_bytes(&url).await == bytes, "first (fetching) download");

    // Stored now: several curl processes at once over HTTP/1.1 ...
    let args = [url.as_str()];
    let wholes = futures::future::join_all((0..4).map(|_| curl(&args))).await;
    for whole in wholes {
        assert!(whole == bytes, "{} bytes over HTTP/1.1", whole.len());
    }
    // ... over cleartext HTTP/2, whose framing reads the mapped bytes ...
    let h2 = curl(&["--http2-prior-knowledge", &url]).await;
    assert!(h2 == bytes, "{} bytes over HTTP/2", h2.len());
    // ... and ranges that start and end inside pages, and past the middle.
    for (start, end) in [(4_097, 5_000_000), (0, 0), (8_000_001, bytes.len() - 1)] {
        let part = curl(&["--range", &format!("{start}-{end}"), &url]).await;
        assert!(part == bytes[start..=end], "range {start}-{end}");
    }
    assert_eq!(index.hits(&upstream_path(HUGE)), 1);
}
