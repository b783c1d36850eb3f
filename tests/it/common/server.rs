//! A running `larder serve` process for end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Larder {
    pub base: String,
    pub data_dir: PathBuf,
    child: Child,
    dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl Larder {
    /// Starts `larder serve` on a free port with a fresh data directory and
    /// the given extra arguments (upstreams, `--offline`, …).
    pub async fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let mut larder = Self::start_in(&data_dir, args).await;
        larder.dir = Some(std::sync::Arc::new(dir));
        larder
    }

    /// Starts `larder serve` on an existing data directory (a restart).
    pub async fn start_in(data_dir: &Path, args: &[&str]) -> Self {
        Self::start_logging_to(data_dir, args, None).await
    }

    /// Starts `larder serve` with a fresh data directory, logging at INFO as
    /// JSON lines into `log` instead of the test's stderr.
    pub async fn start_with_json_log(args: &[&str], log: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut larder = Self::start_logging_to(&dir.path().join("data"), args, Some(log)).await;
        larder.dir = Some(std::sync::Arc::new(dir));
        larder
    }

    async fn start_logging_to(data_dir: &Path, args: &[&str], log: Option<&Path>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_larder"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--cache-dir"])
            .arg(data_dir)
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        for (key, _) in std::env::vars() {
            if key.starts_with("LARDER_") || key.to_ascii_lowercase().ends_with("_proxy") {
                command.env_remove(key);
            }
        }
        match log {
            Some(log) => {
                command
                    .stderr(std::fs::File::create(log).unwrap())
                    .env("LARDER_LOG", "info")
                    .env("LARDER_LOG_FORMAT", "json");
            }
            None => {
                command
                    .stderr(Stdio::inherit())
                    .env("LARDER_LOG", "larder=warn");
            }
        }
        let mut child = command.spawn().expect("cannot start larder serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("larder did not start within 30 s")
            .unwrap()
            .expect("larder exited before listening");
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        Self {
            base,
            data_dir: data_dir.to_path_buf(),
            child,
            dir: None,
        }
    }

    /// Keeps the temporary data directory alive after the process is gone.
    pub fn data_dir_guard(&self) -> Option<std::sync::Arc<tempfile::TempDir>> {
        self.dir.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn simple_url(&self) -> String {
        self.url("/simple/")
    }

    /// The larder path of `filename`, as `project`'s JSON page links it.
    pub async fn file_path(&self, project: &str, filename: &str) -> String {
        let page: serde_json::Value = serde_json::from_slice(
            &get_bytes(self.url(&format!("/simple/{project}/?format=json"))).await,
        )
        .unwrap();
        let file = page["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filename"] == filename)
            .unwrap_or_else(|| panic!("{filename} not on {page}"));
        file["url"]
            .as_str()
            .unwrap()
            .trim_start_matches("../..")
            .to_owned()
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Sends `signal` (`INT`, `TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit status, if the process ends within `timeout`.
    pub async fn exit_within(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .map(Result::unwrap)
    }

    /// Asks for a graceful shutdown (SIGTERM) and waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("larder did not stop within 30 s")
            .unwrap()
    }
}

/// A plain HTTP client for tests (no proxies, no decompression).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// [`http`] that answers redirects instead of following them.
pub fn http_no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The body of a GET of `url` as text.
pub async fn get_text(url: impl reqwest::IntoUrl) -> String {
    http().get(url).send().await.unwrap().text().await.unwrap()
}

/// The body of a GET of `url`, read whole (test files are small).
pub async fn get_bytes(url: impl reqwest::IntoUrl) -> bytes::Bytes {
    http().get(url).send().await.unwrap().bytes().await.unwrap()
}
