//! `contrib/systemd`: the unit passes `systemd-analyze verify` with its
//! hardening intact, and the environment file names variables larder reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::contrib;

const INSTALLED_BIN: &str = "/usr/local/bin/larder";

/// The settings the unit promises; dropping one should be a decision.
const HARDENING: &[&str] = &[
    "DynamicUser=yes",
    "StateDirectory=larder",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=\n",
    "AmbientCapabilities=\n",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter=@system-service",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "RestrictNamespaces=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "RestrictSUIDSGID=yes",
    "Restart=on-failure",
    "KillSignal=SIGTERM",
    "TimeoutStopSec=",
    "EnvironmentFile=-/etc/default/larder",
];

/// `systemd-analyze` on PATH; its absence fails the test (CI installs it).
fn systemd_analyze() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("systemd-analyze"))
        .find(|candidate| candidate.is_file())
        .expect(
            "systemd-analyze is not installed, so larder.service cannot be checked: \
             install systemd (`apt-get install systemd`, as .ci/run does)",
        )
}

/// Lines where `systemd-analyze verify` complains about `unit`.
async fn complaints(unit: &Path) -> (bool, Vec<String>) {
    let mut command = tokio::process::Command::new(systemd_analyze());
    command.arg("verify").arg(unit).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("systemd-analyze verify did not finish within 60 s")
        .unwrap();
    let name = unit.file_name().unwrap().to_str().unwrap();
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    let lines = text
        .lines()
        .filter(|line| line.contains(name))
        .filter(|line| {
            let line = line.to_ascii_lowercase();
            ["unknown", "failed", "ignoring", "invalid", "not executable"]
                .iter()
                .any(|word| line.contains(word))
        })
        .map(str::to_owned)
        .collect();
    (output.status.success(), lines)
}

#[tokio::test]
async fn systemd_analyze_verify_accepts_the_unit() {
    let unit = std::fs::read_to_string(contrib("systemd/larder.service")).unwrap();
    for setting in HARDENING {
        assert!(unit.contains(setting), "larder.service lacks {setting:?}");
    }
    let exec_start = format!("ExecStart={INSTALLED_BIN} serve --cache-dir /var/lib/larder ");
    assert!(unit.contains(&exec_start), "{unit}");

    // verify checks that ExecStart's binary exists: use the one just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("larder.service");
    std::fs::write(
        &copy,
        unit.replace(INSTALLED_BIN, env!("CARGO_BIN_EXE_larder")),
    )
    .unwrap();
    let (ok, lines) = complaints(&copy).await;
    assert!(ok && lines.is_empty(), "verify: ok={ok}, {lines:#?}");

    // The check can fail: this systemd does flag a unit it cannot use.
    let broken = dir.path().join("broken.service");
    std::fs::write(&broken, unit.replace("KillSignal=", "KillSignalTypo=")).unwrap();
    let (_, lines) = complaints(&broken).await;
    assert!(!lines.is_empty(), "a misspelt key went unnoticed");
}

#[tokio::test]
async fn the_environment_file_example_is_what_larder_reads() {
    // Larder ignores LARDER_* names it does not know, so a typo would be
    // silent: the example may only use these (LARDER_SERVE_ARGS is the unit's).
    let known = [
        "LARDER_CONFIG",
        "LARDER_DATA_DIR",
        "LARDER_LISTEN",
        "LARDER_OFFLINE",
        "LARDER_LOG_FORMAT",
        "LARDER_UPSTREAM",
        "LARDER_LOG",
        "LARDER_SERVE_ARGS",
    ];
    let example = std::fs::read_to_string(contrib("systemd/larder.env.example")).unwrap();
    let mut settings = Vec::new();
    for line in example.lines() {
        // Every setting, commented out or not.
        let assignment = line.strip_prefix('#').unwrap_or(line);
        if let Some((name, value)) = assignment.split_once('=')
            && name.starts_with("LARDER_")
            && !name.contains(' ')
        {
            assert!(known.contains(&name), "unknown variable {name} in: {line}");
            settings.push((name, value));
        }
    }
    let names: Vec<&str> = settings.iter().map(|(name, _)| *name).collect();
    for name in ["LARDER_LISTEN", "LARDER_UPSTREAM", "LARDER_SERVE_ARGS"] {
        assert!(names.contains(&name), "the example lacks {name}");
    }
    let unit = std::fs::read_to_string(contrib("systemd/larder.service")).unwrap();
    assert!(unit.contains(" $LARDER_SERVE_ARGS\n"), "{unit}");

    // Larder accepts every value as written (the config file named there
    // does not exist here: an empty one stands in).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let env: Vec<(&str, &str)> = settings
        .iter()
        .filter(|(name, _)| *name != "LARDER_SERVE_ARGS")
        .map(|&(name, value)| match name {
            "LARDER_CONFIG" => (name, config.to_str().unwrap()),
            _ => (name, value),
        })
        .collect();
    let run = crate::common::larder_env(dir.path(), &["check-config"], &env).await;
    run.assert_ok();
    let value = |wanted: &str| env.iter().find(|(name, _)| *name == wanted).unwrap().1;
    for line in [
        format!("listen = \"{}\"", value("LARDER_LISTEN")),
        format!("log-format = \"{}\"", value("LARDER_LOG_FORMAT")),
    ] {
        assert!(run.stdout.contains(&line), "no {line}: {run:#?}");
    }
}
