//! `larder warm` and `POST /requirements.txt` against the fixture index:
//! requirements files, `--deps`, lock files, failures in the report and the
//! exit code, and installs from the warmed cache with the upstream gone.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::install::{Install, install};
use crate::common::larder;
use crate::common::private::{Form, PrivateLarder};
use crate::common::server::Larder;

const APP_WHEEL: &str = "larder_demo_app-1.0-py3-none-any.whl";
const APP_SDIST: &str = "larder_demo_app-1.0.tar.gz";
const LIB_10: &str = "larder_demo_lib-1.0-py3-none-any.whl";
const LIB_11: &str = "larder_demo_lib-1.1-py3-none-any.whl";
const UTIL: &str = "larder_demo_util-0.5-py3-none-any.whl";
const BIG: &str = "larder_demo_big-1.0-py3-none-any.whl";

/// Runs `larder warm ARGS --json --cache-dir DATA --upstream URL`; returns
/// the run and its JSON report.
async fn warm(work: &Path, index: &FixtureIndex, args: &[&str]) -> (crate::common::Run, Value) {
    let data = work.join("data");
    let upstream = index.simple_url();
    let mut all = vec!["warm", "--json", "--cache-dir", data.to_str().unwrap()];
    all.extend(["--upstream", &upstream]);
    all.extend(args);
    let run = larder(work, &all).await;
    let report = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {run:#?}"));
    (run, report)
}

/// `(filename, status)` of every file in a report, sorted.
fn files(report: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = expected
        .iter()
        .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
        .collect();
    out.sort();
    out
}

fn write(work: &Path, name: &str, text: &str) -> PathBuf {
    let path = work.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn warm_from_requirements_then_install_with_the_upstream_gone() {
    let mut index = FixtureIndex::start(Flavor::Json).await;
    let work = tempfile::tempdir().unwrap();
    write(
        work.path(),
        "base.txt",
        "larder-demo-util  # from an include\n",
    );
    let req = write(
        work.path(),
        "requirements.txt",
        "--index-url http://127.0.0.1:9/simple/\n\
         larder-demo-app==1.0\n\
         larder_demo_lib>=1.0 ; python_version >= '3'\n\
         -r base.txt\n\
         -e ./somewhere\n",
    );
    let (run, report) = warm(work.path(), &index, &["-r", req.to_str().unwrap()]).await;
    run.assert_ok();
    let fetched = [
        (APP_WHEEL, "fetched"),
        (&*format!("{APP_WHEEL}.metadata"), "fetched"),
        (APP_SDIST, "fetched"),
        (LIB_11, "fetched"),
        (&*format!("{LIB_11}.metadata"), "fetched"),
        (UTIL, "fetched"),
        (&*format!("{UTIL}.metadata"), "fetched"),
    ];
    assert_eq!(files(&report), pairs(&fetched));
    for file in [APP_WHEEL, APP_SDIST, LIB_11, UTIL] {
        assert_eq!(index.hits(&format!("/packages/{file}")), 1, "{file}");
    }
    assert_eq!(index.hits(&format!("/packages/{LIB_10}")), 0);
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["ignored", "unsupported"]);
    assert!(run.stderr.contains("7 file(s) fetched"), "{}", run.stderr);

    // Again: everything is already cached, nothing is downloaded.
    let before = index.total_hits();
    let (run, report) = warm(work.path(), &index, &["-r", req.to_str().unwrap()]).await;
    run.assert_ok();
    let cached: Vec<(&str, &str)> = fetched
        .iter()
        .map(|(f, _)| (*f, "already-cached"))
        .collect();
    assert_eq!(files(&report), pairs(&cached));
    let page_hits = index.total_hits() - before;
    assert!(
        page_hits <= 3,
        "only pages may be asked again, saw {page_hits}"
    );

    // The upstream goes away: pip and uv install the set from /local/simple/.
    index.stop().await;
    let larder = Larder::start_in(&work.path().join("data"), &["--offline"]).await;
    let local = larder.url("/local/simple/");
    install(Install::PipIndex(&local), work.path()).await;
    install(Install::UvIndex(&local), work.path()).await;
}

#[tokio::test]
async fn warm_follows_dependencies_for_targets() {
    let index = FixtureIndex::start(Flavor::Html).await;
    let work = tempfile::tempdir().unwrap();
    let req = write(work.path(), "top.txt", "larder-demo-app\n");
    let (run, report) = warm(
        work.path(),
        &index,
        &[
            "-r",
            req.to_str().unwrap(),
            "--deps",
            "--python",
            "3.12",
            "--platform",
            "manylinux_2_28_x86_64",
        ],
    )
    .await;
    run.assert_ok();
    let mut names: Vec<String> = files(&report).into_iter().map(|(f, _)| f).collect();
    names.retain(|f| !f.ends_with(".metadata"));
    assert_eq!(names, [APP_WHEEL, APP_SDIST, LIB_11, UTIL]);
    let chosen: Vec<(&str, &str)> = report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["project"].as_str().unwrap(),
                r["version"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        chosen,
        [
            ("larder-demo-app", "1.0"),
            ("larder-demo-lib", "1.1"),
            ("larder-demo-util", "0.5")
        ]
    );
    assert_eq!(index.hits(&format!("/packages/{BIG}")), 0);
}

#[tokio::test]
async fn warm_from_lock_files_fetches_exactly_the_named_files() {
    let index = FixtureIndex::start(Flavor::Json).await;
    let work = tempfile::tempdir().unwrap();
    let uv_lock = format!(
        r#"version = 1
requires-python = ">=3.8"

[[package]]
name = "my-app"
version = "0.1.0"
source = {{ editable = "." }}

[[package]]
name = "larder-demo-util"
version = "0.5"
source = {{ registry = "{simple}" }}
wheels = [
    {{ url = "{util_url}", hash = "sha256:{util_sha}" }},
]
"#,
        simple = index.simple_url(),
        util_url = index.file_url(UTIL),
        util_sha = index.sha256(UTIL),
    );
    let pylock = format!(
        r#"lock-version = "1.0"
created-by = "larder-tests"

[[packages]]
name = "larder-demo-lib"
version = "1.0"

[[packages.wheels]]
name = "{LIB_10}"
url = "{lib_url}"
hashes = {{ sha256 = "{lib_sha}" }}
"#,
        lib_url = index.file_url(LIB_10),
        lib_sha = index.sha256(LIB_10),
    );
    let uv_lock = write(work.path(), "uv.lock", &uv_lock);
    let pylock = write(work.path(), "pylock.toml", &pylock);
    let (run, report) = warm(
        work.path(),
        &index,
        &[
            "--lock",
            uv_lock.to_str().unwrap(),
            "--lock",
            pylock.to_str().unwrap(),
        ],
    )
    .await;
    run.assert_ok();
    let expected = [
        (LIB_10, "fetched"),
        (&*format!("{LIB_10}.metadata"), "fetched"),
        (UTIL, "fetched"),
        (&*format!("{UTIL}.metadata"), "fetched"),
    ];
    assert_eq!(files(&report), pairs(&expected));
    assert_eq!(index.hits(&format!("/packages/{LIB_11}")), 0);

    // A lock file whose hash the index does not announce is unsatisfiable.
    let bad = write(
        work.path(),
        "pylock.bad.toml",
        &std::fs::read_to_string(&pylock)
            .unwrap()
            .replace(&index.sha256(LIB_10), &"0".repeat(64)),
    );
    let (run, report) = warm(work.path(), &index, &["--lock", bad.to_str().unwrap()]).await;
    assert_eq!(run.status, Some(1), "{run:#?}");
    assert_eq!(report["requirements"][0]["status"], "unsatisfiable");
}

#[tokio::test]
async fn failing_requirements_show_in_the_report_and_the_exit_code() {
    let index = FixtureIndex::start(Flavor::Json).await;
    index.corrupt(UTIL);
    let work = tempfile::tempdir().unwrap();
    let req = write(
        work.path(),
        "requirements.txt",
        "larder-demo-app==9.9\nno-such-project\nlarder-demo-util\nthis is not valid\n",
    );
    let (run, report) = warm(work.path(), &index, &["-r", req.to_str().unwrap()]).await;
    assert_eq!(run.status, Some(1), "{run:#?}");
    let statuses: Vec<(&str, &str)> = report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["project"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("larder-demo-app", "unsatisfiable"),
            ("no-such-project", "unsatisfiable"),
            ("larder-demo-util", "chosen"),
        ]
    );
    let util = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == UTIL)
        .unwrap();
    assert_eq!(util["status"], "failed");
    assert_eq!(report["notes"][0]["kind"], "invalid");
    assert!(
        run.stderr.contains("unsatisfiable: larder-demo-app==9.9"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn post_requirements_txt_warms_through_the_server() {
    let private = PrivateLarder::start_with("[auth]\nwarm-scope = \"upload\"\n").await;
    let form = || {
        Form::default()
            .file(
                "requirements",
                "requirements.txt",
                b"larder-demo-lib==1.1\n",
            )
            .text("python", "3.12")
            .text("deps", "true")
    };
    // With `warm-scope = "upload"`, warming needs upload credentials.
    let answer = private.post("/requirements.txt", None, form()).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    let answer = private
        .post(
            "/requirements.txt",
            Some(("__token__", &private.read_token)),
            form(),
        )
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");

    let answer = private
        .post(
            "/requirements.txt",
            Some(("__token__", &private.token)),
            form(),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let report: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(report["ok"], true, "{report:#}");
    let mut names: Vec<String> = files(&report).into_iter().map(|(f, _)| f).collect();
    names.retain(|f| !f.ends_with(".metadata"));
    assert_eq!(names, [LIB_11, UTIL]);
    assert_eq!(private.index.hits(&format!("/packages/{LIB_11}")), 1);

    // The files are now in the local view.
    let (status, page) = private
        .json_page("/local/simple/", "larder-demo-util")
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["files"][0]["filename"], UTIL);

    // No `requirements` field is a 400.
    let answer = private
        .post(
            "/requirements.txt",
            Some(("__token__", &private.token)),
            Form::default().text("python", "3.12"),
        )
        .await;
    assert_eq!(answer.status, 400, "{answer:?}");
}

#[tokio::test]
async fn deps_are_read_from_wheels_when_the_index_has_no_metadata_files() {
    let index = FixtureIndex::start(Flavor::Json).await;
    index.drop_metadata();
    let work = tempfile::tempdir().unwrap();
    let req = write(work.path(), "top.txt", "larder-demo-app\n");
    let (run, report) = warm(
        work.path(),
        &index,
        &["-r", req.to_str().unwrap(), "--deps"],
    )
    .await;
    run.assert_ok();
    let names: Vec<String> = files(&report).into_iter().map(|(f, _)| f).collect();
    assert_eq!(names, [APP_WHEEL, APP_SDIST, LIB_11, UTIL]);
}
