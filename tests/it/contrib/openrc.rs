//! `contrib/openrc`: conf.d variables (larder's names and package-cache's)
//! become the `larder serve` command line start-stop-daemon is given.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::contrib;
use crate::common::FixtureServer;
use crate::common::index::{FixtureIndex, Flavor};
use crate::common::server::http;

/// OpenRC's helpers as no-ops or recorders, and what OpenRC's default
/// `start()` does for a `command_background` service (openrc-run(8)): run
/// start-stop-daemon with `command`, `pidfile`, `command_user` and the logs,
/// and `command_args` evaluated by the shell, as OpenRC does.
const HARNESS: &str = r#"
ebegin() { :; }
eend() { return "${1:-0}"; }
einfo() { :; }
ewarn() { echo "ewarn: $*" >&2; }
eerror() { echo "eerror: $*" >&2; }
checkpath() {
	printf '%s\n' "$@" -END- >> "$STUB_DIR/checkpath"
	for last; do :; done
	[ -z "$STUB_RUN" ] || mkdir -p "$last"
}
openrc_default_start() {
	background=
	[ "$command_background" = yes ] && background="--background --make-pidfile"
	eval "start-stop-daemon --start --exec \"\$command\" --pidfile \"\$pidfile\" \
		--user \"\$command_user\" --stdout \"\$output_log\" --stderr \"\$error_log\" \
		$background -- $command_args"
}
RC_SVCNAME=larder
. "$CONF_D"
. "$OVERRIDES"
. "$INIT_D"
start_pre || exit 1
case "$(type start 2>/dev/null)" in
	*function*) start ;;
	*) openrc_default_start ;;
esac
"#;

/// Records its arguments, one a line. With `STUB_RUN` set it also does what
/// `start-stop-daemon --start --background --make-pidfile` does: starts
/// `--exec` with the arguments after `--`, logs appended, and writes its pid.
const START_STOP_DAEMON: &str = r#"#!/bin/sh
printf '%s\n' "$@" > "$STUB_DIR/start-stop-daemon"
[ -n "$STUB_RUN" ] || exit 0
while [ $# -gt 0 ]; do
	case $1 in
		--exec) exe=$2; shift ;;
		--pidfile) pidfile=$2; shift ;;
		--stdout) out=$2; shift ;;
		--stderr) err=$2; shift ;;
		--user) shift ;;
		--) shift; break ;;
	esac
	shift
done
(exec "$exe" "$@" >>"$out" 2>>"$err" </dev/null) &
echo $! > "$pidfile"
"#;

/// What one run of the start logic asked for.
struct Started {
    /// start-stop-daemon's options, before `--`.
    options: Vec<String>,
    /// The command's arguments, after `--`.
    args: Vec<String>,
    /// One entry per checkpath call.
    checkpaths: Vec<Vec<String>>,
    dir: tempfile::TempDir,
}

impl Started {
    /// The value after `option` in start-stop-daemon's options.
    #[track_caller]
    fn option(&self, option: &str) -> &str {
        let at = self.options.iter().position(|o| o == option);
        match at.and_then(|at| self.options.get(at + 1)) {
            Some(value) => value,
            None => panic!("no {option} in {:?}", self.options),
        }
    }
}

/// Sources the shipped conf.d, then `settings` (as a local conf.d would
/// set them), then the init script, and runs its start logic with the stubs
/// first on PATH. `run`: the stub really starts the command.
async fn start(settings: &str, run: bool) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    write_executable(&bin.join("start-stop-daemon"), START_STOP_DAEMON);
    let overrides = dir.path().join("overrides");
    let pidfile = dir.path().join("larder.pid");
    std::fs::write(
        &overrides,
        format!("pidfile='{}'\n{settings}\n", pidfile.display()),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // A clean environment: no LARDER_* or proxy settings of the test's own.
    let mut command = tokio::process::Command::new("sh");
    command
        .args(["-c", HARNESS])
        .env_clear()
        .env("PATH", path)
        .env("STUB_DIR", dir.path())
        .env("CONF_D", contrib("openrc/conf.d/larder"))
        .env("INIT_D", contrib("openrc/init.d/larder"))
        .env("OVERRIDES", &overrides)
        .kill_on_drop(true);
    if run {
        command.env("STUB_RUN", "1");
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the start logic did not finish within 30 s")
        .expect("cannot run sh");
    assert!(
        output.status.success(),
        "start failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let recorded = read_lines(&dir.path().join("start-stop-daemon"));
    let split = recorded.iter().position(|a| a == "--");
    let split = split.unwrap_or_else(|| panic!("no -- in {recorded:?}"));
    let checkpaths = read_lines(&dir.path().join("checkpath"))
        .split(|line| line == "-END-")
        .filter(|call| !call.is_empty())
        .map(<[String]>::to_vec)
        .collect();
    Started {
        options: recorded[..split].to_vec(),
        args: recorded[split + 1..].to_vec(),
        checkpaths,
        dir,
    }
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[track_caller]
fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("nothing recorded in {}: {e}", path.display()));
    text.lines().map(str::to_owned).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|&s| s.to_owned()).collect()
}

#[tokio::test]
async fn the_openrc_files_parse_as_sh() {
    let init_d = contrib("openrc/init.d/larder");
    for file in [&init_d, &contrib("openrc/conf.d/larder")] {
        let output = std::process::Command::new("sh")
            .arg("-n")
            .arg(file)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "sh -n {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let script = std::fs::read_to_string(&init_d).unwrap();
    assert!(script.starts_with("#!/sbin/openrc-run\n"), "{script}");
    assert!(
        script.contains("\tneed net\n"),
        "depend() needs net: {script}"
    );
}

#[tokio::test]
async fn larder_settings_become_serve_flags_and_win_over_package_cache_names() {
    let started = start(
        r#"
LARDER_USER=cache-user
LARDER_GROUP=cache-group
PC_USER=pc-user
PC_GROUP=pc-group
LARDER_OPTS="--offline --config '/etc/larder/my config.toml'"
PC_OPTS=--pc-only
CACHE_DIR="/srv/larder cache"
HOST=0.0.0.0
PORT=4000
SOURCES="http://MIRROR-A/gentoo/  http://MIRROR-B/gentoo/"
UPSTREAMS='http://127.0.0.1:9/simple/ http://ci:pa$$w0rd@127.0.0.1:9/x/simple/?a=1&b=*'
LARDER_BIN=/opt/larder/bin/larder
LARDER_LOG_FILE=/srv/log/larder.log
"#,
        false,
    )
    .await;
    assert_eq!(
        started.args,
        strings(&[
            "serve",
            "--listen",
            "0.0.0.0:4000",
            "--cache-dir",
            "/srv/larder cache",
            "--source",
            "http://MIRROR-A/gentoo/",
            "--source",
            "http://MIRROR-B/gentoo/",
            "--upstream",
            "http://127.0.0.1:9/simple/",
            "--upstream",
            "http://ci:pa$$w0rd@127.0.0.1:9/x/simple/?a=1&b=*",
            "--offline",
            "--config",
            "/etc/larder/my config.toml",
        ])
    );
    assert_eq!(started.option("--exec"), "/opt/larder/bin/larder");
    assert_eq!(started.option("--user"), "cache-user:cache-group");
    assert_eq!(started.option("--stdout"), "/srv/log/larder.log");
    assert_eq!(started.option("--stderr"), "/srv/log/larder.log");
    assert!(
        started.options.contains(&"--background".to_owned())
            && started.options.contains(&"--make-pidfile".to_owned()),
        "command_background: {:?}",
        started.options
    );
    assert_eq!(
        started.checkpaths,
        [
            strings(&[
                "--directory",
                "--owner",
                "cache-user:cache-group",
                "--mode",
                "0750",
                "/srv/larder cache"
            ]),
            strings(&[
                "--directory",
                "--owner",
                "cache-user:cache-group",
                "--mode",
                "0750",
                "/srv/log"
            ]),
        ]
    );
}

#[tokio::test]
async fn a_package_cache_conf_d_keeps_working() {
    let started = start(
        r#"
PC_USER="portage"
PC_GROUP="portage"
CACHE_DIR="/var/cache/package-cache"
HOST="0.0.0.0"
PORT="4000"
SOURCES="http://MIRROR-A/gentoo/"
PC_OPTS="--offline"
"#,
        false,
    )
    .await;
    assert_eq!(
        started.args,
        strings(&[
            "serve",
            "--listen",
            "0.0.0.0:4000",
            "--cache-dir",
            "/var/cache/package-cache",
            "--source",
            "http://MIRROR-A/gentoo/",
            "--offline",
        ])
    );
    assert_eq!(started.option("--user"), "portage:portage");
    assert_eq!(started.checkpaths[0][2], "portage:portage");
}

#[tokio::test]
async fn an_empty_conf_d_gives_the_documented_defaults() {
    let started = start("", false).await;
    assert_eq!(
        started.args,
        strings(&[
            "serve",
            "--listen",
            "127.0.0.1:3141",
            "--cache-dir",
            "/var/lib/larder",
        ])
    );
    assert_eq!(started.option("--exec"), "/usr/local/bin/larder");
    assert_eq!(started.option("--user"), "larder:larder");
    assert_eq!(started.option("--stdout"), "/var/log/larder/larder.log");

    // IPv6 addresses get the brackets `--listen` needs, once.
    for (host, listen) in [("::", "[::]:3141"), ("[::1]", "[::1]:3141")] {
        let started = start(&format!("HOST='{host}'"), false).await;
        assert_eq!(started.args[1..3], strings(&["--listen", listen]));
    }
}

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
