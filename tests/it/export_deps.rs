//! `larder export --deps`: a requirements file naming only the root
//! (`larder-demo-app`) becomes a bundle of its closure over the stored files
//! (app, `larder-demo-lib` 1.1 only, `larder-demo-util`; never the unrelated
//! `larder-demo-big`), written with the server gone, that pip and uv install
//! with no network, no larder and no data directory. A dependency that is
//! not stored is reported and the exit code is 4; the buildout layout and
//! the archive hold the same closure.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::install::{Install, install};
use crate::common::server::Larder;
use crate::common::{Run, larder, tree};
use crate::export::{warm, warmed_data_dir};

const APP_WHEEL: &str = "larder_demo_app-1.0-py3-none-any.whl";
const APP_SDIST: &str = "larder_demo_app-1.0.tar.gz";
const LIB_11: &str = "larder_demo_lib-1.1-py3-none-any.whl";
const UTIL: &str = "larder_demo_util-0.5-py3-none-any.whl";

/// The closure for a Python 3.12 target: the wheels, no sdist (a wheel
/// covers the target), sorted.
const FOR_312: [&str; 3] = [APP_WHEEL, LIB_11, UTIL];

/// Runs `larder export --cache-dir DATA -r REQ --deps ARGS --json` in `work`.
async fn export(work: &Path, data: &Path, req: &str, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["export", "--cache-dir", data.to_str().unwrap()];
    all.extend(["-r", req, "--deps", "--json"]);
    all.extend(args);
    let run = larder(work, &all).await;
    let report = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {run:#?}"));
    (run, report)
}

/// The exported file names of a report, sorted.
fn exported(report: &Value) -> Vec<String> {
    let mut names: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The distribution files (not `.metadata`) directly in `dir`, sorted.
fn dists_in(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|p| !p.ends_with(".metadata"))
        .collect()
}

/// The one thing a report says is missing: `(what, reason)`.
fn the_missing(report: &Value) -> (String, String) {
    let missing = report["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{report:#}");
    let field = |key: &str| missing[0][key].as_str().unwrap().to_owned();
    (field("what"), field("reason"))
}

fn write_requirements(work: &Path) -> &'static str {
    std::fs::write(work.join("req.txt"), "larder-demo-app\n").unwrap();
    "req.txt"
}

#[tokio::test]
async fn a_bundle_of_the_closure_installs_offline_and_holds_nothing_extra() {
    let work = tempfile::tempdir().unwrap();
    let data = warmed_data_dir(work.path()).await;
    let req = write_requirements(work.path());

    // No targets: every file of each chosen version (nothing says which
    // one the installer will want), but one version of each project.
    let (run, report) = export(work.path(), &data, req, &["--to", "any"]).await;
    run.assert_ok();
    assert_eq!(exported(&report), [APP_WHEEL, APP_SDIST, LIB_11, UTIL]);
    assert_eq!(report["missing"], Value::Array(vec![]), "{report:#}");
    assert_eq!(
        report["projects"],
        serde_json::json!(["larder-demo-app", "larder-demo-lib", "larder-demo-util"])
    );

    // A Python 3.12 target: a pure wheel covers it, so no sdist.
    let (run, report) = export(
        work.path(),
        &data,
        req,
        &["--python", "3.12", "--to", "bundle"],
    )
    .await;
    run.assert_ok();
    assert_eq!(exported(&report), FOR_312);
    let bundle = work.path().join("bundle");
    assert_eq!(dists_in(&bundle.join("files")), FOR_312);
    let pages: Vec<String> = tree(&bundle.join("simple"))
        .into_iter()
        .filter(|p| !p.contains('/'))
        .collect();
    assert_eq!(
        pages,
        [
            "index.html",
            "index.json",
            "larder-demo-app",
            "larder-demo-lib",
            "larder-demo-util"
        ]
    );
    let lib_page =
        std::fs::read_to_string(bundle.join("simple/larder-demo-lib/index.html")).unwrap();
    assert!(lib_page.contains(LIB_11), "{lib_page}");
    assert!(!lib_page.contains("larder_demo_lib-1.0"), "{lib_page}");

    // No larder, no data directory, no network.
    std::fs::remove_dir_all(&data).unwrap();
    install(Install::PipFindLinks(&bundle.join("files")), work.path()).await;
    let simple = format!("file://{}/", bundle.join("simple").display());
    install(Install::UvIndex(&simple), work.path()).await;
}

#[tokio::test]
async fn the_buildout_layout_and_the_archive_hold_the_same_closure() {
    let work = tempfile::tempdir().unwrap();
    let data = warmed_data_dir(work.path()).await;
    let req = write_requirements(work.path());
    let target = ["--python", "3.12", "--platform", "manylinux_2_28_x86_64"];

    let mut args = target.to_vec();
    args.extend(["--layout", "buildout", "--to", "cache"]);
    let (run, report) = export(work.path(), &data, req, &args).await;
    run.assert_ok();
    assert_eq!(exported(&report), FOR_312);
    let cache = work.path().join("cache");
    assert_eq!(dists_in(&cache.join("dist")), FOR_312);
    assert!(!cache.join("simple").exists());

    let mut args = target.to_vec();
    args.extend(["--archive", "bundle.tar.zst"]);
    let (run, report) = export(work.path(), &data, req, &args).await;
    run.assert_ok();
    assert_eq!(exported(&report), FOR_312);
    let archive = std::fs::File::open(work.path().join("bundle.tar.zst")).unwrap();
    let mut entries = tar::Archive::new(zstd::Decoder::new(archive).unwrap());
    let mut dists: Vec<String> = Vec::new();
    let mut manifest = String::new();
    for entry in entries.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let path = path.trim_start_matches("./").to_owned();
        if path == "MANIFEST" {
            entry.read_to_string(&mut manifest).unwrap();
        }
        if let Some(name) = path.strip_prefix("files/")
            && !name.ends_with(".metadata")
            && !name.is_empty()
        {
            dists.push(name.to_owned());
        }
    }
    dists.sort();
    assert_eq!(dists, FOR_312);
    for name in FOR_312 {
        assert!(manifest.contains(&format!(" files/{name}\n")), "{manifest}");
    }
    assert!(!manifest.contains("larder_demo_big"), "{manifest}");
}

#[tokio::test]
async fn a_dependency_that_is_not_stored_is_missing_and_the_exit_code_is_4() {
    let work = tempfile::tempdir().unwrap();
    let index = FixtureIndex::start(Flavor::Json).await;
    let data = work.path().join("data");
    let mut server = Larder::start_in(&data, &["--upstream", &index.simple_url()]).await;
    // Everything but `larder-demo-util`, which lib depends on.
    warm(&server, &["larder-demo-app", "larder-demo-lib"]).await;
    server.kill().await;
    let req = write_requirements(work.path());

    let (run, report) = export(
        work.path(),
        &data,
        req,
        &["--python", "3.12", "--to", "partial"],
    )
    .await;
    assert_eq!(run.status, Some(4), "{run:#?}");
    let (what, reason) = the_missing(&report);
    assert_eq!(what, "larder-demo-util (dependency of larder-demo-lib 1.1)");
    assert!(
        reason.contains("no file of `larder-demo-util` is stored"),
        "{reason}"
    );
    // The rest is still written.
    assert_eq!(
        dists_in(&work.path().join("partial/files")),
        [APP_WHEEL, LIB_11]
    );
    // Even with the upstream configured and answering, nothing is fetched.
    let before = index.total_hits();
    let upstream = index.simple_url();
    let (run, report) = export(
        work.path(),
        &data,
        req,
        &["--upstream", &upstream, "--to", "again"],
    )
    .await;
    assert_eq!(run.status, Some(4), "{run:#?}");
    assert_eq!(the_missing(&report).0, what);
    assert_eq!(index.total_hits(), before);
}

#[tokio::test]
async fn deps_are_read_from_stored_wheels_and_an_sdist_only_version_is_reported() {
    let work = tempfile::tempdir().unwrap();
    let index = FixtureIndex::start(Flavor::Json).await;
    // No `.metadata` files: dependencies must come from the wheels.
    index.drop_metadata();
    let data = work.path().join("data");
    let sdist = index.sha256(APP_SDIST);
    std::fs::write(
        work.path().join("cache.txt"),
        format!("larder-demo-app --hash=sha256:{sdist}\nlarder-demo-lib==1.1\nlarder-demo-util\n"),
    )
    .unwrap();
    let upstream = index.simple_url();
    let cache_dir = data.to_str().unwrap();
    larder(
        work.path(),
        &[
            "warm",
            "--cache-dir",
            cache_dir,
            "--upstream",
            &upstream,
            "-r",
            "cache.txt",
        ],
    )
    .await
    .assert_ok();
    std::fs::write(
        work.path().join("req.txt"),
        "larder-demo-app\nlarder-demo-lib\n",
    )
    .unwrap();

    let (run, report) = export(work.path(), &data, "req.txt", &["--to", "bundle"]).await;
    assert_eq!(run.status, Some(4), "{run:#?}");
    // util is reached through lib 1.1's wheel; app's sdist says nothing.
    assert_eq!(exported(&report), [APP_SDIST, LIB_11, UTIL]);
    let (what, reason) = the_missing(&report);
    assert_eq!(what, "dependencies of larder-demo-app 1.0");
    assert!(reason.contains("only an sdist"), "{reason}");
    assert!(
        tree(&work.path().join("bundle/files"))
            .iter()
            .all(|f| !f.ends_with(".metadata"))
    );
}

#[tokio::test]
async fn deps_needs_requirements_and_targets_need_deps() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let cache_dir = data.to_str().unwrap();
    let req = write_requirements(work.path());
    // (arguments, what the error says)
    let cases: [(&[&str], &str); 3] = [
        (
            &["--project", "larder-demo-app", "--deps"],
            "`--deps` follows requirements",
        ),
        (&["-r", req, "--python", "3.12"], "--deps"),
        (
            &["-r", req, "--deps", "--python", "three"],
            "`--python three`",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["export", "--cache-dir", cache_dir, "--to", "out"];
        all.extend(args);
        larder(work.path(), &all).await.assert_err(needle);
    }
    assert!(!work.path().join("out").exists());
}
