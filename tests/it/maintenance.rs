//! Keeping the cache in shape, end to end with the real binary: last access
//! reaching the catalog on a graceful shutdown, `larder prune` (LRU order,
//! uploads and `--keep` survive, `--dry-run`), background pruning,
//! `larder verify` (corrupt, orphan and stale staging files; quarantine and
//! a clean re-fetch) and `larder stats`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::private::{Form, PrivateLarder, dist};
use crate::common::server::{Larder, http};
use crate::common::{Run, larder, tree};

const UTIL: &str = "larder_demo_util-0.5-py3-none-any.whl";
const LIB_OLD: &str = "larder_demo_lib-1.0-py3-none-any.whl";
const LIB_NEW: &str = "larder_demo_lib-1.1-py3-none-any.whl";
const APP_SDIST: &str = "larder_demo_app-1.0.tar.gz";
const PRIVATE_WHEEL: &str = "larder_private_lib-0.3-py3-none-any.whl";

/// Downloads `filename` of `project` through larder, by its page's link.
async fn fetch(larder: &Larder, project: &str, filename: &str) -> bytes::Bytes {
    let path = larder.file_path(project, filename).await;
    let response = http().get(larder.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{filename}");
    response.bytes().await.unwrap()
}

/// Runs `larder ARGS --cache-dir DATA`.
async fn cli(data: &Path, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--cache-dir", data.to_str().unwrap()]);
    larder(data.parent().unwrap(), &all).await
}

async fn json(data: &Path, args: &[&str]) -> (Run, Value) {
    let run = cli(data, args).await;
    let value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}"));
    (run, value)
}

/// The blob files, by their hex names.
fn blobs(data: &Path) -> Vec<String> {
    tree(&data.join("blobs"))
        .into_iter()
        .filter(|p| p.matches('/').count() == 4)
        .map(|p| p.rsplit('/').next().unwrap().to_owned())
        .collect()
}

fn blob_path(data: &Path, sha256: &str) -> std::path::PathBuf {
    data.join("blobs/v1/sha256")
        .join(&sha256[0..2])
        .join(&sha256[2..4])
        .join(sha256)
}

/// Last access is kept in whole seconds: let one pass between accesses
/// whose order matters.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn prune_removes_least_recently_used_and_never_uploads() {
    let private = PrivateLarder::start().await;
    let answer = private
        .upload(Form::twine(
            "larder-private-lib",
            "0.3",
            PRIVATE_WHEEL,
            &dist(PRIVATE_WHEEL),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let data = private.larder.data_dir.clone();
    let _keep_dir = private.larder.data_dir_guard();
    let PrivateLarder { larder, index, .. } = private;
    // Stored in the order util, old lib, new lib; then util is read again,
    // which makes the old lib the least recently used.
    fetch(&larder, "larder-demo-util", UTIL).await;
    next_second().await;
    fetch(&larder, "larder-demo-lib", LIB_OLD).await;
    next_second().await;
    fetch(&larder, "larder-demo-lib", LIB_NEW).await;
    next_second().await;
    fetch(&larder, "larder-demo-util", UTIL).await;

    // The graceful shutdown writes the access times noted in memory.
    assert!(larder.terminate().await.success());

    let (_, stats) = json(&data, &["stats", "--json"]).await;
    let total = stats["total"]["bytes"].as_u64().unwrap();
    let size = |f: &str| index.file_bytes(f).len() as u64;
    // One byte too many for dropping only the least recently used file, so
    // the next one goes too; the most recently used and the upload stay.
    let max = (total - size(LIB_OLD) - 1).to_string();

    let before = blobs(&data);
    let (run, dry) = json(&data, &["prune", "--max-size", &max, "--dry-run", "--json"]).await;
    run.assert_ok();
    assert_eq!(blobs(&data), before, "a dry run changes nothing");
    let names = |report: &Value| -> Vec<String> {
        report["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                b["names"][0]
                    .as_str()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(names(&dry), [LIB_OLD, LIB_NEW]);

    let (run, report) = json(&data, &["prune", "--max-size", &max, "--json"]).await;
    run.assert_ok();
    assert_eq!(names(&report), [LIB_OLD, LIB_NEW]);
    let after = blobs(&data);
    assert!(after.contains(&index.sha256(UTIL)));
    assert!(after.contains(&crate::common::private::sha256_hex(&dist(PRIVATE_WHEEL))));
    assert!(!after.contains(&index.sha256(LIB_OLD)));
    assert!(!after.contains(&index.sha256(LIB_NEW)));
    assert_eq!(
        report["after_bytes"].as_u64().unwrap(),
        total - size(LIB_OLD) - size(LIB_NEW)
    );

    // Pruning to nothing still keeps the upload (and its METADATA).
    let (run, report) = json(&data, &["prune", "--max-size", "0", "--json"]).await;
    run.assert_ok();
    assert_eq!(names(&report), [UTIL]);
    assert_eq!(blobs(&data).len(), 2, "the upload and its METADATA stay");

    // A pruned file is fetched again on its next request, intact.
    let larder = Larder::start_in(&data, &["--upstream", &index.simple_url()]).await;
    assert_eq!(
        fetch(&larder, "larder-demo-lib", LIB_OLD).await,
        index.file_bytes(LIB_OLD)
    );
    assert_eq!(index.hits(&format!("/packages/{LIB_OLD}")), 2);
}

#[tokio::test]
async fn keep_lists_protect_files_and_unused_for_prunes_by_age() {
    let index = FixtureIndex::start(Flavor::Json).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    for (project, file) in [
        ("larder-demo-lib", LIB_OLD),
        ("larder-demo-lib", LIB_NEW),
        ("larder-demo-app", APP_SDIST),
    ] {
        fetch(&larder, project, file).await;
    }
    let data = larder.data_dir.clone();
    let _keep_dir = larder.data_dir_guard();
    assert!(larder.terminate().await.success());

    // Nothing is a day old.
    let (run, report) = json(&data, &["prune", "--unused-for", "1d", "--json"]).await;
    run.assert_ok();
    assert_eq!(report["removed"], serde_json::json!([]));

    let keep = data.parent().unwrap().join("requirements.txt");
    std::fs::write(&keep, "larder-demo-lib==1.0\nlarder-demo-app\n").unwrap();
    let run = cli(
        &data,
        &[
            "prune",
            "--unused-for",
            "0s",
            "--keep",
            keep.to_str().unwrap(),
        ],
    )
    .await;
    run.assert_ok();
    assert!(run.stdout.contains(LIB_NEW), "{run:#?}");
    let left = blobs(&data);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&index.sha256(LIB_OLD)));
    assert!(left.contains(&index.sha256(APP_SDIST)));

    // A keep list that cannot be read stops the prune before it starts.
    std::fs::write(&keep, "larder-demo-lib===\n").unwrap();
    cli(
        &data,
        &["prune", "--max-size", "0", "--keep", keep.to_str().unwrap()],
    )
    .await
    .assert_err("keep list");
    assert_eq!(blobs(&data).len(), 2);
    cli(&data, &["prune"]).await.assert_err("--max-size");
}

#[tokio::test]
async fn serve_prunes_in_the_background_past_max_size() {
    let index = FixtureIndex::start(Flavor::Json).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("larder.toml");
    // Room for the small wheels but not the big one: storing it wakes the
    // size check, which removes the least recently used files.
    let max = index
        .file_bytes("larder_demo_big-1.0-py3-none-any.whl")
        .len();
    std::fs::write(
        &config,
        format!("[prune]\nmax-size = {max}\ninterval = \"1h\"\n"),
    )
    .unwrap();
    let larder = Larder::start(&[
        "--config",
        config.to_str().unwrap(),
        "--upstream",
        &index.simple_url(),
    ])
    .await;
    fetch(&larder, "larder-demo-util", UTIL).await;
    next_second().await;
    fetch(
        &larder,
        "larder-demo-big",
        "larder_demo_big-1.0-py3-none-any.whl",
    )
    .await;
    let util = index.sha256(UTIL);
    let mut left = blobs(&larder.data_dir);
    for _ in 0..100 {
        if !left.contains(&util) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = blobs(&larder.data_dir);
    }
    assert!(
        !left.contains(&util),
        "the background prune did not run: {left:?}"
    );
}

#[tokio::test]
async fn verify_finds_quarantines_and_the_next_request_refetches() {
    let index = FixtureIndex::start(Flavor::Json).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    fetch(&larder, "larder-demo-lib", LIB_OLD).await;
    fetch(&larder, "larder-demo-util", UTIL).await;
    let data = larder.data_dir.clone();
    let _keep_dir = larder.data_dir_guard();
    assert!(larder.terminate().await.success());
    cli(&data, &["verify"]).await.assert_ok();

    // Damage: a flipped byte, a blob nobody recorded, a staging file left by
    // a crash two hours ago.
    let corrupt = index.sha256(LIB_OLD);
    let mut bytes = std::fs::read(blob_path(&data, &corrupt)).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(blob_path(&data, &corrupt), &bytes).unwrap();
    let orphan_bytes = b"an orphan";
    let orphan = crate::common::private::sha256_hex(orphan_bytes);
    std::fs::create_dir_all(blob_path(&data, &orphan).parent().unwrap()).unwrap();
    std::fs::write(blob_path(&data, &orphan), orphan_bytes).unwrap();
    let stale = data.join("staging/.larder-staging-crashed");
    std::fs::write(&stale, b"half").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let fresh = data.join("staging/.larder-staging-busy");
    std::fs::write(&fresh, b"in progress").unwrap();

    let (run, report) = json(&data, &["verify", "--json"]).await;
    assert_eq!(run.status, Some(1), "{run:#?}");
    let found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["problem"].as_str().unwrap().to_owned(),
                f["sha256"]
                    .as_str()
                    .or(f["path"].as_str())
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        found,
        [
            ("corrupt".to_owned(), corrupt.clone()),
            ("orphan".to_owned(), orphan.clone()),
            ("stale-staging".to_owned(), stale.display().to_string()),
        ]
    );
    assert!(stale.exists(), "without --repair nothing changes");

    let (run, report) = json(&data, &["verify", "--repair", "--json"]).await;
    assert_eq!(
        run.status,
        Some(1),
        "damage was found, even if repaired: {run:#?}"
    );
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["action"].is_string())
    );
    assert!(!stale.exists());
    assert!(fresh.exists(), "a live staging file is left alone");
    assert!(!blob_path(&data, &corrupt).exists());
    assert_eq!(
        std::fs::read(data.join("quarantine").join(&corrupt)).unwrap(),
        bytes
    );
    std::fs::remove_file(&fresh).unwrap();
    let run = cli(&data, &["verify"]).await;
    run.assert_ok();

    // The corrupt file was forgotten: the next request fetches it again.
    let larder = Larder::start_in(&data, &["--upstream", &index.simple_url()]).await;
    assert_eq!(
        fetch(&larder, "larder-demo-lib", LIB_OLD).await,
        index.file_bytes(LIB_OLD)
    );
    assert_eq!(index.hits(&format!("/packages/{LIB_OLD}")), 2);
}

#[tokio::test]
async fn stats_count_contents_and_all_time_traffic_over_restarts() {
    let index = FixtureIndex::start(Flavor::Json).await;
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    let data = larder.data_dir.clone();
    let _keep_dir = larder.data_dir_guard();
    // One miss and two hits, in two runs of the server.
    fetch(&larder, "larder-demo-util", UTIL).await;
    fetch(&larder, "larder-demo-util", UTIL).await;
    assert!(larder.terminate().await.success());
    let larder = Larder::start_in(&data, &["--upstream", &index.simple_url()]).await;
    fetch(&larder, "larder-demo-util", UTIL).await;
    assert!(larder.terminate().await.success());

    let (run, stats) = json(&data, &["stats", "--json"]).await;
    run.assert_ok();
    let size = index.file_bytes(UTIL).len() as u64;
    assert_eq!(
        stats["total"],
        serde_json::json!({"files": 1, "bytes": size})
    );
    assert_eq!(stats["by_origin"]["upstream"]["bytes"], size);
    assert_eq!(stats["by_source"]["upstream-1"]["files"], 1);
    let traffic = &stats["all_time"];
    assert_eq!(traffic["file_hits"], 2);
    assert_eq!(traffic["file_misses"], 1);
    assert_eq!(traffic["bytes_from_cache"], 2 * size);
    assert_eq!(traffic["bytes_from_upstream"], size);
    let human = cli(&data, &["stats"]).await;
    human.assert_ok();
    assert!(human.stdout.contains("hit ratio 66.7%"), "{human:#?}");
}

#[tokio::test]
async fn a_running_server_writes_access_times_every_flush_interval() {
    let index = FixtureIndex::start(Flavor::Json).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("larder.toml");
    std::fs::write(&config, "[prune]\nflush-interval = \"1s\"\n").unwrap();
    let larder = Larder::start(&[
        "--config",
        config.to_str().unwrap(),
        "--upstream",
        &index.simple_url(),
    ])
    .await;
    fetch(&larder, "larder-demo-lib", LIB_OLD).await;
    fetch(&larder, "larder-demo-lib", LIB_NEW).await;
    next_second().await;
    fetch(&larder, "larder-demo-lib", LIB_OLD).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Read while the server runs: the hit on the old wheel has reached the
    // catalog, so it is now the more recently used of the two.
    let (run, report) = json(
        &larder.data_dir,
        &["prune", "--unused-for", "0s", "--dry-run", "--json"],
    )
    .await;
    run.assert_ok();
    let removed = report["removed"].as_array().unwrap();
    let first = removed[0]["names"][0].as_str().unwrap();
    assert!(first.ends_with(LIB_NEW), "{report}");
    assert!(removed[1]["last_access_at"].as_i64() > removed[0]["last_access_at"].as_i64());
}
