//! The private index end to end: twine and `uv publish` upload, pip and uv
//! install through larder; private names shadow (or, when configured,
//! merge with) the upstream's; yank, unyank and delete.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::install::{Install, install_package};
use crate::common::private::{PASSWORD, PrivateLarder, dist, sha256_hex};
use crate::common::server::http;
use crate::common::tree;

const APP_WHEEL: &str = "larder_private_app-1.0-py3-none-any.whl";
const LIB_WHEEL: &str = "larder_private_lib-0.3-py3-none-any.whl";
const LIB_WHEEL_2: &str = "larder_private_lib-0.3-py2.py3-none-any.whl";
const LIB_SDIST: &str = "larder_private_lib-0.3.tar.gz";
const UTIL_PRIVATE: &str = "larder_demo_util-0.1-py3-none-any.whl";
const UTIL_UPSTREAM: &str = "larder_demo_util-0.5-py3-none-any.whl";

fn venv() -> PathBuf {
    let venv = std::env::var_os("LARDER_TEST_VENV")
        .map(PathBuf::from)
        .expect("LARDER_TEST_VENV is not set: run the tests with `bash scripts/test`");
    assert!(
        venv.join("bin/twine").exists(),
        "no twine in {}",
        venv.display()
    );
    venv
}

/// Runs a tool of the test venv with no user config, keyring or proxy.
async fn tool(program: &str, args: &[&str], cwd: &Path) -> Output {
    let mut command = tokio::process::Command::new(venv().join("bin").join(program));
    command
        .args(args)
        .current_dir(cwd)
        .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        .env("UV_NO_CONFIG", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("NO_PROXY", "127.0.0.1")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("TWINE_")
            || key.starts_with("UV_PUBLISH_")
            || key.starts_with("PIP_INDEX")
            || key.starts_with("UV_INDEX")
            || key == "UV_DEFAULT_INDEX"
        {
            command.env_remove(key);
        }
    }
    tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("the tool timed out")
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes the fixture distributions named into `dir`; returns their paths.
fn write_dists(dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            std::fs::write(&path, dist(name)).unwrap();
            path.to_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn twine_and_uv_publish_then_pip_and_uv_install() {
    let private = PrivateLarder::start().await;
    let work = tempfile::tempdir().unwrap();
    let paths = write_dists(work.path(), &[APP_WHEEL, LIB_WHEEL, LIB_SDIST]);
    let upload_url = private.url("/");
    let twine_upload = |path: String, extra: &'static [&'static str]| {
        let token = private.token.clone();
        let url = upload_url.clone();
        let cwd = work.path().to_path_buf();
        async move {
            let mut args = vec![
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                &url,
                "-u",
                "__token__",
                "-p",
                &token,
            ];
            args.extend_from_slice(extra);
            args.push(&path);
            tool("twine", &args, &cwd).await
        }
    };

    let output = twine_upload(paths[0].clone(), &[]).await;
    assert!(
        output.status.success(),
        "twine upload failed:\n{}",
        text(&output)
    );
    let publish_url = private.url("/legacy/");
    let output = tool(
        "uv",
        &[
            "publish",
            "--publish-url",
            &publish_url,
            "--username",
            "alice",
            "--password",
            PASSWORD,
            "--trusted-publishing",
            "never",
            "--no-progress",
            &paths[1],
            &paths[2],
        ],
        work.path(),
    )
    .await;
    assert!(
        output.status.success(),
        "uv publish failed:\n{}",
        text(&output)
    );

    // Both install through larder, with their upstream dependencies.
    let simple = private.larder.simple_url();
    for how in [Install::PipIndex(&simple), Install::UvIndex(&simple)] {
        let target = install_package(how, "larder-private-app", work.path()).await;
        for module in [
            "larder_private_app",
            "larder_private_lib",
            "larder_demo_lib",
            "larder_demo_util",
        ] {
            assert!(
                target.join(module).join("__init__.py").exists(),
                "{how:?} did not install {module}"
            );
        }
        assert!(target.join("larder_private_lib-0.3.dist-info").exists());
    }

    // The same file again: twine reports the conflict, and with `--verbose`
    // larder's message (the body; the status line keeps the standard reason
    // phrase, since messages quote what the client sent).
    let output = twine_upload(paths[0].clone(), &["--verbose"]).await;
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("409 Conflict"), "{said}");
    assert!(said.contains("File already exists"), "{said}");
    // So does `uv publish`; with `--check-url` it skips the file instead.
    let output = tool(
        "uv",
        &[
            "publish",
            "--publish-url",
            &publish_url,
            "--token",
            &private.token,
            "--trusted-publishing",
            "never",
            "--no-progress",
            &paths[1],
        ],
        work.path(),
    )
    .await;
    assert!(!output.status.success());
    assert!(text(&output).contains("409 Conflict"), "{}", text(&output));
    let output = tool(
        "uv",
        &[
            "publish",
            "--publish-url",
            &publish_url,
            "--check-url",
            &simple,
            "--token",
            &private.token,
            "--trusted-publishing",
            "never",
            "--no-progress",
            &paths[1],
        ],
        work.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("already exists, skipping"),
        "{}",
        text(&output)
    );

    // twine >= 6.2 refuses `--skip-existing` for any repository but PyPI's
    // before uploading anything, so its decision is checked directly: twine's
    // own upload code sends the file and twine's `skip_upload` judges
    // larder's answer.
    let script = "import sys\n\
        from twine.repository import Repository\n\
        from twine.package import PackageFile\n\
        from twine.commands.upload import skip_upload\n\
        url, token, path = sys.argv[1:]\n\
        package = PackageFile.from_filename(path, comment=None)\n\
        response = Repository(url, '__token__', token, disable_progress_bar=True).upload(package)\n\
        print(response.status_code, skip_upload(response, True, package))\n";
    let output = tool(
        "python",
        &["-c", script, &upload_url, &private.token, &paths[0]],
        work.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().last(), Some("409 True"), "{stdout}");
}

#[tokio::test]
async fn a_private_project_shadows_its_upstream_namesake() {
    let private = PrivateLarder::start().await;
    // The upstream's page is known (and its files announced) before the
    // private project exists.
    let (status, page) = private.json_page("/simple/", "larder-demo-util").await;
    assert_eq!(status, StatusCode::OK);
    let upstream_sha = page["files"][0]["hashes"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let page_hits = private.index.hits("/simple/larder-demo-util/");

    let answer = private
        .upload(crate::common::private::Form::twine(
            "larder-demo-util",
            "0.1",
            UTIL_PRIVATE,
            &dist(UTIL_PRIVATE),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    for prefix in ["/simple/", "/local/simple/"] {
        let (status, page) = private.json_page(prefix, "larder-demo-util").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            page["versions"],
            serde_json::json!(["0.1"]),
            "{prefix}: {page}"
        );
        assert_eq!(page["files"].as_array().unwrap().len(), 1, "{page}");
    }
    // Not fetched either, even by digest.
    let response = http()
        .get(private.url(&format!("/files/{upstream_sha}/{UTIL_UPSTREAM}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let work = tempfile::tempdir().unwrap();
    let simple = private.larder.simple_url();
    for how in [Install::PipIndex(&simple), Install::UvIndex(&simple)] {
        let target = install_package(how, "larder-demo-util", work.path()).await;
        assert!(
            target.join("larder_demo_util-0.1.dist-info").exists(),
            "{how:?}"
        );
        let init = std::fs::read_to_string(target.join("larder_demo_util/__init__.py")).unwrap();
        assert!(init.contains("PRIVATE = True"), "{how:?}: {init}");
    }
    assert_eq!(private.index.hits("/simple/larder-demo-util/"), page_hits);
    assert_eq!(private.index.hits(&format!("/packages/{UTIL_UPSTREAM}")), 0);
}

#[tokio::test]
async fn merging_with_the_upstream_is_an_explicit_opt_in() {
    let private =
        PrivateLarder::start_with("[private]\nmerge-upstream = [\"Larder_Demo.Util\"]\n").await;
    let answer = private
        .upload(crate::common::private::Form::twine(
            "larder-demo-util",
            "0.1",
            UTIL_PRIVATE,
            &dist(UTIL_PRIVATE),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let (_, page) = private.json_page("/simple/", "larder-demo-util").await;
    let names: Vec<_> = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, [UTIL_PRIVATE, UTIL_UPSTREAM]);
    // The local view lists what is stored: the upstream file is not yet.
    let (_, local) = private
        .json_page("/local/simple/", "larder-demo-util")
        .await;
    assert_eq!(local["files"].as_array().unwrap().len(), 1, "{local}");

    let work = tempfile::tempdir().unwrap();
    let target = install_package(
        Install::PipIndex(&private.larder.simple_url()),
        "larder-demo-util",
        work.path(),
    )
    .await;
    assert!(
        target.join("larder_demo_util-0.5.dist-info").exists(),
        "the newest wins"
    );
    let (_, local) = private
        .json_page("/local/simple/", "larder-demo-util")
        .await;
    assert_eq!(local["files"].as_array().unwrap().len(), 2, "{local}");
}

#[tokio::test]
async fn yank_unyank_and_delete() {
    let private = PrivateLarder::start().await;
    for (filename, tag) in [
        (LIB_WHEEL, "wheel"),
        (LIB_WHEEL_2, "wheel"),
        (LIB_SDIST, "sdist"),
    ] {
        let form = crate::common::private::Form::twine(
            "larder-private-lib",
            "0.3",
            filename,
            &dist(filename),
        );
        let answer = private.upload(form).await;
        assert_eq!(answer.status, StatusCode::OK, "{tag}: {answer:?}");
    }
    let (_, page) = private.json_page("/simple/", "larder-private-lib").await;
    let metadata_sha = page["files"][0]["core-metadata"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        page["files"][1]["core-metadata"]["sha256"], metadata_sha,
        "the two wheels share one METADATA"
    );

    private
        .cli(&[
            "yank",
            "Larder_Private.Lib",
            LIB_WHEEL,
            "--reason",
            "broken on 3.13",
        ])
        .await
        .assert_ok();
    let (_, page) = private.json_page("/simple/", "larder-private-lib").await;
    assert_eq!(page["files"][0]["yanked"], "broken on 3.13");
    assert!(
        page["files"][1].get("yanked").is_none(),
        "absent means not yanked"
    );
    let html = http()
        .get(private.url("/simple/larder-private-lib/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-yanked=\"broken on 3.13\""), "{html}");
    private
        .cli(&["unyank", "larder-private-lib", LIB_WHEEL])
        .await
        .assert_ok();
    let (_, page) = private.json_page("/simple/", "larder-private-lib").await;
    assert!(
        page["files"][0].get("yanked").is_none(),
        "absent means not yanked"
    );

    let blob = |sha: &str| {
        private.larder.data_dir.join(format!(
            "blobs/v1/sha256/{}/{}/{sha}",
            &sha[..2],
            &sha[2..4]
        ))
    };
    let wheel_sha = sha256_hex(&dist(LIB_WHEEL));
    assert!(blob(&wheel_sha).exists());
    private
        .cli(&["delete", "larder-private-lib", LIB_WHEEL])
        .await
        .assert_ok();
    assert!(
        !blob(&wheel_sha).exists(),
        "the deleted file's bytes are freed"
    );
    assert!(
        blob(&metadata_sha).exists(),
        "the other wheel still uses the METADATA"
    );
    let (_, page) = private.json_page("/simple/", "larder-private-lib").await;
    let names: Vec<_> = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, [LIB_WHEEL_2, LIB_SDIST]);
    let response = http()
        .get(private.url(&format!("/files/{wheel_sha}/{LIB_WHEEL}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    private
        .cli(&["delete", "larder-private-lib", LIB_WHEEL_2])
        .await
        .assert_ok();
    assert!(
        !blob(&metadata_sha).exists(),
        "now nothing uses the METADATA"
    );
    private
        .cli(&["delete", "larder-private-lib", LIB_SDIST])
        .await
        .assert_ok();
    // No private files left: the name is the upstream's again (which does
    // not know it).
    let (status, _) = private.json_page("/simple/", "larder-private-lib").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let blobs = tree(&private.larder.data_dir.join("blobs"));
    assert!(blobs.iter().all(|p| !p.ends_with(&wheel_sha)), "{blobs:?}");

    private
        .cli(&["delete", "larder-private-lib", LIB_SDIST])
        .await
        .assert_err("project `larder-private-lib` has no uploaded file");
    private
        .cli(&["yank", "larder-private-lib", "nope-1.0.tar.gz"])
        .await
        .assert_err("has no uploaded file");
    // A deleted filename can be uploaded again.
    let form = crate::common::private::Form::twine(
        "larder-private-lib",
        "0.3",
        LIB_SDIST,
        &dist(LIB_SDIST),
    );
    assert_eq!(private.upload(form).await.status, StatusCode::OK);
}
