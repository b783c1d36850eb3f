//! `contrib/openrc`: conf.d variables (larder's names and package-cache's)
//! become the `larder serve` command line start-stop-daemon is given.

use std::path::Path;
use std::time::Duration;

use super::contrib;

/// The stubs and the harness that sources conf.d and the init script.
fn support(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/openrc")
        .join(name)
}

/// What one run of the start logic asked for.
pub(super) struct Started {
    /// start-stop-daemon's options, before `--`.
    pub options: Vec<String>,
    /// The command's arguments, after `--`.
    pub args: Vec<String>,
    /// One entry per checkpath call.
    pub checkpaths: Vec<Vec<String>>,
    pub dir: tempfile::TempDir,
}

impl Started {
    /// The value after `option` in start-stop-daemon's options.
    #[track_caller]
    pub fn option(&self, option: &str) -> &str {
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
pub(super) async fn start(settings: &str, run: bool) -> Started {
    let dir = tempfile::tempdir().unwrap();
    // The stub is copied so that it is executable whatever the checkout's modes.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let stub = std::fs::read_to_string(support("start-stop-daemon")).unwrap();
    write_executable(&bin.join("start-stop-daemon"), &stub);
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
        .arg(support("harness.sh"))
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
