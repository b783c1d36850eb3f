//! `larder import`: a wheelhouse, and an export archive, become cached files
//! that `larder serve --offline` serves to pip and uv.

use serde_json::Value;

use crate::common::index::demo_dists;
use crate::common::install::{Install, install};
use crate::common::larder;
use crate::common::server::{Larder, http};
use crate::export::warmed_data_dir;

#[tokio::test]
async fn imported_wheelhouse_is_served_offline_with_metadata() {
    let work = tempfile::tempdir().unwrap();
    let wheelhouse = work.path().join("wheelhouse");
    std::fs::create_dir_all(wheelhouse.join("nested")).unwrap();
    for (name, bytes) in demo_dists() {
        let dir = if name.contains("util") {
            wheelhouse.join("nested")
        } else {
            wheelhouse.clone()
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    std::fs::write(wheelhouse.join("README.txt"), "not a distribution").unwrap();
    let data = work.path().join("data");
    let data_arg = data.to_str().unwrap();

    let run = larder(
        work.path(),
        &["import", "wheelhouse", "--cache-dir", data_arg, "--json"],
    )
    .await;
    run.assert_ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["imported"].as_array().unwrap().len(),
        6,
        "{report:#}"
    );
    assert!(
        report["imported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "nested/larder_demo_util-0.5-py3-none-any.whl")
    );
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert!(skipped.contains(&"README.txt"), "{skipped:?}");
    assert_eq!(
        skipped.len(),
        6,
        "5 .metadata files and the README: {skipped:?}"
    );
    assert_eq!(report["failed"], Value::Array(vec![]));

    // Importing again stores nothing new.
    let again = larder(
        work.path(),
        &["import", "wheelhouse", "--cache-dir", data_arg, "--json"],
    )
    .await;
    again.assert_ok();
    let again: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again["imported"], Value::Array(vec![]));
    assert_eq!(again["already_stored"].as_array().unwrap().len(), 6);

    let server = Larder::start_in(&data, &["--offline"]).await;
    let page = http()
        .get(server.url("/local/simple/larder-demo-lib/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-core-metadata=\"sha256="), "{page}");
    let href = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('#').next())
        .unwrap();
    let metadata_url = url::Url::parse(&server.url("/local/simple/larder-demo-lib/"))
        .unwrap()
        .join(&format!("{href}.metadata"))
        .unwrap();
    let metadata = http().get(metadata_url.clone()).send().await.unwrap();
    assert!(
        metadata.status().is_success(),
        "{metadata_url}: {}",
        metadata.status()
    );
    assert!(
        metadata
            .text()
            .await
            .unwrap()
            .contains("Name: larder-demo-lib")
    );

    install(
        Install::PipIndex(&server.url("/local/simple/")),
        work.path(),
    )
    .await;
    install(Install::UvIndex(&server.simple_url()), work.path()).await;
}

#[tokio::test]
async fn export_archive_round_trips_through_import() {
    let work = tempfile::tempdir().unwrap();
    let data = warmed_data_dir(work.path()).await;
    larder(
        work.path(),
        &[
            "export",
            "--cache-dir",
            data.to_str().unwrap(),
            "--all",
            "--archive",
            "bundle.tar.zst",
        ],
    )
    .await
    .assert_ok();
    std::fs::remove_dir_all(&data).unwrap();

    let fresh = work.path().join("fresh");
    let run = larder(
        work.path(),
        &[
            "import",
            "bundle.tar.zst",
            "--cache-dir",
            fresh.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    run.assert_ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["imported"].as_array().unwrap().len(),
        6,
        "{report:#}"
    );
    assert_eq!(report["failed"], Value::Array(vec![]));

    let server = Larder::start_in(&fresh, &["--offline"]).await;
    install(
        Install::PipIndex(&server.url("/local/simple/")),
        work.path(),
    )
    .await;
}
