//! Real clients: pip and uv from the test venv (`scripts/test` creates it and
//! sets `LARDER_TEST_VENV`) install through `larder serve`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::index::{FixtureIndex, Flavor};
use crate::common::server::Larder;

fn venv() -> PathBuf {
    let venv = std::env::var_os("LARDER_TEST_VENV")
        .map(PathBuf::from)
        .expect("LARDER_TEST_VENV is not set: run the tests with `bash scripts/test`");
    assert!(venv.join("bin/uv").exists(), "no uv in {}", venv.display());
    venv
}

#[derive(Clone, Copy, Debug)]
enum Installer {
    Pip,
    Uv,
}

/// Installs `larder-demo-app` (and its dependency tree) into a fresh target
/// directory from `index_url`, with no client cache; returns the target.
async fn install(installer: Installer, index_url: &str, work: &Path) -> PathBuf {
    let venv = venv();
    let target = work.join(format!("target-{installer:?}-{}", rand_suffix()));
    let mut command = match installer {
        Installer::Pip => {
            let mut c = tokio::process::Command::new(venv.join("bin/pip"));
            c.args([
                "install",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--target",
            ]);
            c
        }
        Installer::Uv => {
            let mut c = tokio::process::Command::new(venv.join("bin/uv"));
            c.args(["pip", "install", "--no-cache", "--python"])
                .arg(venv.join("bin/python"))
                .arg("--target");
            c
        }
    };
    command
        .arg(&target)
        .args(["--index-url", index_url, "larder-demo-app"])
        .env("UV_NO_CONFIG", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_INDEX_URL")
        .env_remove("UV_INDEX_URL")
        .env_remove("UV_DEFAULT_INDEX")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("installer timed out")
        .unwrap();
    assert!(
        output.status.success(),
        "{installer:?} install from {index_url} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for module in ["larder_demo_app", "larder_demo_lib", "larder_demo_util"] {
        assert!(
            target.join(module).join("__init__.py").exists(),
            "{module} not installed by {installer:?}"
        );
    }
    assert!(
        target.join("larder_demo_lib-1.1.dist-info").exists(),
        "{installer:?} did not pick the newest lib"
    );
    target
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

#[tokio::test]
async fn pip_and_uv_install_through_larder_then_offline_and_local() {
    for flavor in [Flavor::Html, Flavor::Json] {
        let mut index = FixtureIndex::start(flavor).await;
        let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
        let work = tempfile::tempdir().unwrap();

        install(Installer::Pip, &larder.simple_url(), work.path()).await;
        install(Installer::Uv, &larder.simple_url(), work.path()).await;
        for wheel in [
            "larder_demo_app-1.0-py3-none-any.whl",
            "larder_demo_lib-1.1-py3-none-any.whl",
            "larder_demo_util-0.5-py3-none-any.whl",
        ] {
            assert_eq!(
                index.hits(&format!("/packages/{wheel}")),
                1,
                "{flavor:?} {wheel}"
            );
        }

        // The upstream goes away: installs keep working from the cache.
        index.stop().await;
        install(Installer::Pip, &larder.simple_url(), work.path()).await;
        install(Installer::Uv, &larder.simple_url(), work.path()).await;
        let local = larder.url("/local/simple/");
        install(Installer::Pip, &local, work.path()).await;
        install(Installer::Uv, &local, work.path()).await;
    }
}

#[tokio::test]
async fn uv_reads_wheel_metadata_by_range_without_metadata_files() {
    let index = FixtureIndex::start(Flavor::Json).await;
    index.drop_metadata();
    let larder = Larder::start(&["--upstream", &index.simple_url()]).await;
    let work = tempfile::tempdir().unwrap();
    install(Installer::Uv, &larder.simple_url(), work.path()).await;
    let metrics = reqwest::get(larder.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("larder_file_misses_total 3"), "{metrics}");
    for wheel in [
        "larder_demo_lib-1.1-py3-none-any.whl",
        "larder_demo_util-0.5-py3-none-any.whl",
    ] {
        assert_eq!(index.hits(&format!("/packages/{wheel}.metadata")), 0);
        assert_eq!(index.hits(&format!("/packages/{wheel}")), 1, "{wheel}");
    }
}
