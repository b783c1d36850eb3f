//! Real installers from the test venv (`scripts/test` creates it and sets
//! `LARDER_TEST_VENV`): pip and uv installing into fresh target directories.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The test venv, with pip, uv, twine and zc.buildout.
pub fn venv() -> PathBuf {
    let venv = std::env::var_os("LARDER_TEST_VENV")
        .map(PathBuf::from)
        .expect("LARDER_TEST_VENV is not set: run the tests with `bash scripts/test`");
    assert!(venv.join("bin/uv").exists(), "no uv in {}", venv.display());
    venv
}

#[derive(Clone, Copy, Debug)]
pub enum Install<'a> {
    /// `pip install --no-index --find-links DIR`
    PipFindLinks(&'a Path),
    /// `pip install --index-url URL`
    PipIndex(&'a str),
    /// `uv pip install --index-url URL` (`--offline` for `file:` URLs)
    UvIndex(&'a str),
}

/// Installs `package` (and its dependencies) into a fresh target directory
/// under `work` with no client cache; asserts the installer succeeded and
/// returns the target.
pub async fn install_package(how: Install<'_>, package: &str, work: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let venv = venv();
    let target = work.join(format!("target-{}", N.fetch_add(1, Ordering::Relaxed)));
    let mut command = match how {
        Install::PipFindLinks(_) | Install::PipIndex(_) => {
            let mut c = tokio::process::Command::new(venv.join("bin/pip"));
            c.args(["install", "--no-cache-dir", "--disable-pip-version-check"]);
            c
        }
        Install::UvIndex(_) => {
            let mut c = tokio::process::Command::new(venv.join("bin/uv"));
            c.args(["pip", "install", "--no-cache", "--python"])
                .arg(venv.join("bin/python"));
            c
        }
    };
    command.arg("--target").arg(&target);
    match how {
        Install::PipFindLinks(dir) => {
            command.args(["--no-index", "--find-links"]).arg(dir);
        }
        Install::PipIndex(url) | Install::UvIndex(url) => {
            command.args(["--index-url", url]);
            // uv's `--offline` also refuses larder on 127.0.0.1.
            if matches!(how, Install::UvIndex(_)) && url.starts_with("file:") {
                command.arg("--offline");
            }
        }
    }
    command.arg(package);
    run(command, &format!("{how:?}")).await;
    target
}

/// `pip download --no-deps` of `requirement` from the index at `url` into a
/// fresh directory under `work`, with no client cache; asserts pip succeeded
/// and returns the names of the files it downloaded.
pub async fn pip_download(url: &str, requirement: &str, work: &Path) -> Vec<String> {
    let dest = tempfile::tempdir_in(work).unwrap();
    let mut command = tokio::process::Command::new(venv().join("bin/pip"));
    command
        .args(["download", "--no-deps", "--no-cache-dir"])
        .args(["--disable-pip-version-check", "--index-url", url, "--dest"])
        .arg(dest.path())
        .arg(requirement);
    run(command, &format!("pip download {requirement}")).await;
    let mut names: Vec<String> = std::fs::read_dir(dest.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs an installer isolated from the user's configuration, bounded in
/// time; asserts it succeeded.
async fn run(mut command: tokio::process::Command, what: &str) {
    command
        .env("UV_NO_CONFIG", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_INDEX_URL")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("UV_INDEX_URL")
        .env_remove("UV_DEFAULT_INDEX")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("installer timed out")
        .unwrap();
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Installs `larder-demo-app` and checks that its whole tree arrived, with
/// the newest `larder-demo-lib`.
pub async fn install(how: Install<'_>, work: &Path) -> PathBuf {
    let target = install_package(how, "larder-demo-app", work).await;
    for module in ["larder_demo_app", "larder_demo_lib", "larder_demo_util"] {
        assert!(
            target.join(module).join("__init__.py").exists(),
            "{module} not installed by {how:?}"
        );
    }
    assert!(
        target.join("larder_demo_lib-1.1.dist-info").exists(),
        "{how:?} did not pick the newest lib"
    );
    target
}
