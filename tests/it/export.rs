//! `larder export`: warm a cache through a running larder, export it, delete
//! the data directory, and install from the tree with no network and no
//! larder: pip (`--find-links`, `file://` index), uv (`file://` index) and a
//! real zc.buildout (download-cache layout).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::install::{Install, install, venv};
use crate::common::larder;
use crate::common::server::{Larder, http};

pub const DEMO_PROJECTS: [&str; 4] = [
    "larder-demo-app",
    "larder-demo-lib",
    "larder-demo-util",
    "larder-demo-big",
];

/// Fetches every file (and `.metadata`) of `projects` through `larder`, so
/// they are stored.
pub async fn warm(larder: &Larder, projects: &[&str]) {
    let client = http();
    for project in projects {
        let page_url = url::Url::parse(&larder.url(&format!("/simple/{project}/"))).unwrap();
        let body = client
            .get(page_url.clone())
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Value = serde_json::from_slice(&body).unwrap();
        for file in page["files"].as_array().unwrap() {
            let url = page_url.join(file["url"].as_str().unwrap()).unwrap();
            let mut urls = vec![url.to_string()];
            if file
                .get("core-metadata")
                .is_some_and(|m| m != &Value::Bool(false))
            {
                urls.push(format!("{url}.metadata"));
            }
            for url in urls {
                let response = client.get(&url).send().await.unwrap();
                assert!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                response.bytes().await.unwrap();
            }
        }
    }
}

/// A larder data directory holding every demo file, with no server running.
pub async fn warmed_data_dir(work: &Path) -> PathBuf {
    let index = FixtureIndex::start(Flavor::Json).await;
    let data = work.join("data");
    let mut server = Larder::start_in(&data, &["--upstream", &index.simple_url()]).await;
    warm(&server, &DEMO_PROJECTS).await;
    server.kill().await;
    data
}

fn file_url(dir: &Path) -> String {
    format!("file://{}/", dir.display())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks that MANIFEST lists every other file of `tree` with its true
/// digest and size, and nothing else.
fn assert_manifest_complete(tree: &Path) {
    let manifest = std::fs::read_to_string(tree.join("MANIFEST")).unwrap();
    let mut listed = Vec::new();
    for line in manifest.lines() {
        let mut parts = line.splitn(3, ' ');
        let (sha, size, path) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let bytes = std::fs::read(tree.join(path)).unwrap();
        assert_eq!(sha256_hex(&bytes), sha, "{path}");
        assert_eq!(bytes.len().to_string(), size, "{path}");
        listed.push(path.to_owned());
    }
    let files: Vec<String> = crate::common::tree(tree)
        .into_iter()
        .filter(|p| tree.join(p).is_file() && p != "MANIFEST")
        .collect();
    assert_eq!(listed, files);
}

#[tokio::test]
async fn exported_tree_installs_with_pip_and_uv_and_no_network() {
    let work = tempfile::tempdir().unwrap();
    let data = warmed_data_dir(work.path()).await;
    let data_arg = data.to_str().unwrap();
    let out = work.path().join("bundle");

    let run = larder(
        work.path(),
        &[
            "export",
            "--cache-dir",
            data_arg,
            "--all",
            "--to",
            "bundle",
            "--json",
        ],
    )
    .await;
    run.assert_ok();
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["files"].as_array().unwrap().len(), 6, "{report:#}");
    assert_eq!(report["missing"], Value::Array(vec![]));

    let tree = crate::common::tree(&out);
    for expected in [
        "MANIFEST",
        "files/larder_demo_app-1.0-py3-none-any.whl",
        "files/larder_demo_app-1.0-py3-none-any.whl.metadata",
        "files/larder_demo_app-1.0.tar.gz",
        "files/larder_demo_lib-1.0-py3-none-any.whl",
        "simple/index.html",
        "simple/index.json",
        "simple/larder-demo-lib/index.html",
        "simple/larder-demo-lib/index.json",
    ] {
        assert!(
            tree.contains(&expected.to_owned()),
            "{expected} missing: {tree:#?}"
        );
    }
    // Exactly the stored files: 6 distributions, 5 wheel metadata files.
    let files = tree.iter().filter(|p| p.starts_with("files/")).count();
    assert_eq!(files, 11, "{tree:#?}");
    assert_manifest_complete(&out);
    let page = std::fs::read_to_string(out.join("simple/larder-demo-lib/index.html")).unwrap();
    assert!(
        page.contains("href=\"../../files/larder_demo_lib-1.1-py3-none-any.whl#sha256="),
        "{page}"
    );
    assert!(page.contains("data-core-metadata=\"sha256="), "{page}");

    // A second export never writes into a non-empty directory.
    larder(
        work.path(),
        &["export", "--cache-dir", data_arg, "--all", "--to", "bundle"],
    )
    .await
    .assert_err("not empty");

    // No larder, no data directory, no network.
    std::fs::remove_dir_all(&data).unwrap();
    install(Install::PipFindLinks(&out.join("files")), work.path()).await;
    let simple = file_url(&out.join("simple"));
    install(Install::PipIndex(&simple), work.path()).await;
    install(Install::UvIndex(&simple), work.path()).await;
}

#[tokio::test]
async fn export_selects_projects_and_requirements_and_reports_what_is_not_stored() {
    let work = tempfile::tempdir().unwrap();
    let data = warmed_data_dir(work.path()).await;
    let data_arg = data.to_str().unwrap();

    let run = larder(
        work.path(),
        &[
            "export",
            "--cache-dir",
            data_arg,
            "--project",
            "Larder_Demo.Util",
            "--to",
            "util",
        ],
    )
    .await;
    run.assert_ok();
    assert_eq!(
        crate::common::tree(&work.path().join("util").join("files")),
        [
            "larder_demo_util-0.5-py3-none-any.whl",
            "larder_demo_util-0.5-py3-none-any.whl.metadata"
        ]
    );

    std::fs::write(
        work.path().join("requirements.txt"),
        "larder-demo-app==1.0\nlarder-demo-lib==1.1\nlarder-demo-util>=0.1\nnot-stored==1.0\n",
    )
    .unwrap();
    let run = larder(
        work.path(),
        &[
            "export",
            "--cache-dir",
            data_arg,
            "-r",
            "requirements.txt",
            "--archive",
            "req.tar.zst",
            "--json",
        ],
    )
    .await;
    assert_eq!(run.status, Some(4), "{run:#?}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut names: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "larder_demo_app-1.0-py3-none-any.whl",
            "larder_demo_app-1.0.tar.gz",
            "larder_demo_lib-1.1-py3-none-any.whl",
            "larder_demo_util-0.5-py3-none-any.whl",
        ]
    );
    let missing = report["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{report:#}");
    assert!(
        missing[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not-stored"),
        "{report:#}"
    );
    assert!(work.path().join("req.tar.zst").is_file());
    // Nothing half-written is left beside it.
    let leftovers: Vec<String> = crate::common::tree(work.path())
        .into_iter()
        .filter(|p| p.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn buildout_installs_from_an_exported_download_cache() {
    let work = tempfile::tempdir().unwrap();
    let data = warmed_data_dir(work.path()).await;
    let cache = work.path().join("cache");
    // buildout wants its download cache to exist; an empty one is filled.
    std::fs::create_dir(&cache).unwrap();
    larder(
        work.path(),
        &[
            "export",
            "--cache-dir",
            data.to_str().unwrap(),
            "--all",
            "--layout",
            "buildout",
            "--to",
            "cache",
        ],
    )
    .await
    .assert_ok();
    assert!(
        cache
            .join("dist/larder_demo_lib-1.1-py3-none-any.whl")
            .is_file()
    );
    assert!(!cache.join("simple").exists());
    assert_manifest_complete(&cache);
    std::fs::remove_dir_all(&data).unwrap();

    let project = work.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("buildout.cfg"),
        format!(
            "[buildout]\nparts = demo\ndownload-cache = {}\ninstall-from-cache = true\n\
             newest = false\n\n[demo]\nrecipe = zc.recipe.egg\neggs = larder-demo-app\n",
            cache.display()
        ),
    )
    .unwrap();
    let mut command = tokio::process::Command::new(venv().join("bin/buildout"));
    command
        .current_dir(&project)
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_INDEX_URL")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("buildout timed out")
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "buildout failed:\n{log}");
    let eggs: Vec<String> = std::fs::read_dir(project.join("eggs"))
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                crate::common::tree(&path)
            } else {
                Vec::new()
            }
        })
        .collect();
    for egg in [
        "larder_demo_app-1.0",
        "larder_demo_lib-1.1",
        "larder_demo_util-0.5",
    ] {
        assert!(
            eggs.iter().any(|e| e.starts_with(egg)),
            "{egg} not installed: {eggs:?}\n{log}"
        );
    }
}
