//! `contrib/openrc` for real: the start logic hands start-stop-daemon a
//! command line that, run with the built larder, serves distfiles from the
//! conf.d's sources.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::openrc::start;
use crate::common::FixtureServer;
use crate::common::index::{FixtureIndex, Flavor};
use crate::common::server::http;

/// Kills the started larder if the test fails before stopping it.
struct Pid(u32);

impl Drop for Pid {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}

/// Gone, or a zombie nobody reaps (the stub's shell, its parent, has exited).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => true,
    }
}

/// Polls `log` until larder's first stdout line says where it listens.
async fn listening_on(log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with("listening on ")) {
            return line["listening on ".len()..].to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "larder did not listen within 30 s: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_started_larder_serves_distfiles_with_the_conf_d_settings() {
    // The first source lacks the file, so it is fetched from the second:
    // both --source flags reached larder, in order.
    let first = FixtureServer::start().await;
    let second = FixtureServer::start().await;
    second.put("/distfiles/foo-1.0.tar.gz", "foo 1.0 sources");
    let index = FixtureIndex::start(Flavor::Json).await;
    let work = tempfile::tempdir().unwrap();
    let cache_dir = work.path().join("cache dir");
    let log = work.path().join("log").join("larder.log");
    // Reached only through PC_OPTS: JSON log lines.
    let config = work.path().join("larder config.toml");
    std::fs::write(&config, "log-format = \"json\"\n").unwrap();

    let started = start(
        &format!(
            r#"
PC_USER=portage
PC_GROUP=portage
PC_OPTS="--config '{config}'"
CACHE_DIR='{cache}'
HOST=127.0.0.1
PORT=0
SOURCES="{a} {b}"
UPSTREAMS="{index}"
LARDER_BIN='{bin}'
LARDER_LOG_FILE='{log}'
"#,
            config = config.display(),
            cache = cache_dir.display(),
            a = first.url("/"),
            b = second.url("/"),
            index = index.simple_url(),
            bin = env!("CARGO_BIN_EXE_larder"),
            log = log.display(),
        ),
        true,
    )
    .await;
    assert_eq!(started.option("--user"), "portage:portage");
    let pid: u32 = std::fs::read_to_string(started.dir.path().join("larder.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = Pid(pid);
    let base = listening_on(&log).await;
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let response = http()
        .get(format!("{base}/distfiles/foo-1.0.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "foo 1.0 sources");
    assert_eq!(first.hits("/distfiles/foo-1.0.tar.gz"), 1);
    assert_eq!(second.hits("/distfiles/foo-1.0.tar.gz"), 1);

    let page = http()
        .get(format!("{base}/simple/larder-demo-lib/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "UPSTREAMS reached larder");
    assert!(index.hits("/simple/larder-demo-lib/") >= 1);

    assert!(
        cache_dir.join("catalog.sqlite").is_file(),
        "CACHE_DIR is larder's data directory"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with('{') && l.contains("listening")),
        "PC_OPTS' --config (log-format = json) reached larder: {text}"
    );

    // What `rc-service larder stop` sends first.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.0.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !exited(pid.0) {
        assert!(Instant::now() < deadline, "larder did not stop within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
