//! Test fixtures: an in-process HTTP server on 127.0.0.1 that serves files from
//! memory and counts requests, and a runner for the built `larder` binary.

pub mod index;
pub mod install;
pub mod private;
pub mod server;
pub mod upstream;

use std::path::{Path, PathBuf};
use std::process::Output;

pub use upstream::FixtureServer;

/// The result of one `larder` run.
#[derive(Debug)]
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last line of stdout: where `larder download` put the file.
    pub fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.success(), "larder failed: {self:#?}");
        self
    }

    #[track_caller]
    pub fn assert_err(&self, needle: &str) -> &Self {
        assert!(!self.success(), "larder should have failed: {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "stderr lacks `{needle}`: {self:#?}"
        );
        self
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs the built `larder` with `args` in `cwd`, with a clean `LARDER_*` environment.
pub async fn larder(cwd: &Path, args: &[&str]) -> Run {
    larder_env(cwd, args, &[]).await
}

pub async fn larder_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_larder"));
    command.args(args).current_dir(cwd).kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("LARDER_") || key.ends_with("_PROXY") || key.ends_with("_proxy") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), command.output())
        .await
        .expect("larder did not finish within 120 s")
        .expect("cannot run larder");
    output.into()
}

/// Every entry in `dir`, recursively, relative to it, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
