//! `larder check-config`: the effective configuration, or the bad key.

use crate::common::{larder, larder_env};

#[tokio::test]
async fn prints_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("larder.toml");
    std::fs::write(
        &file,
        r#"
listen = "127.0.0.1:4000"

[[upstream]]
name = "internal"
url = "http://127.0.0.1:9/simple/"
username = "ci"
password = "hunter2-very-secret"
"#,
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let run = larder_env(
        dir.path(),
        &[
            "check-config",
            "--config",
            config,
            "--listen",
            "127.0.0.1:5000",
        ],
        &[("LARDER_DATA_DIR", "/srv/larder")],
    )
    .await;
    run.assert_ok();
    assert!(
        run.stdout.contains("127.0.0.1:5000"),
        "flag wins: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("/srv/larder"),
        "env applied: {}",
        run.stdout
    );
    assert!(run.stdout.contains("internal"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("hunter2"),
        "secret leaked: {}",
        run.stdout
    );
}

#[tokio::test]
async fn names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("larder.toml");
    std::fs::write(
        &file,
        "[[upstream]]\nurl = \"http://127.0.0.1:9/simple/\"\npage-ttl = \"soon\"\n",
    )
    .unwrap();
    let run = larder(
        dir.path(),
        &["check-config", "--config", file.to_str().unwrap()],
    )
    .await;
    run.assert_err("page-ttl").assert_err("soon");
    assert_eq!(run.status, Some(2));

    std::fs::write(&file, "listne = \"127.0.0.1:1\"\n").unwrap();
    let run = larder(
        dir.path(),
        &["check-config", "--config", file.to_str().unwrap()],
    )
    .await;
    run.assert_err("listne");
}
